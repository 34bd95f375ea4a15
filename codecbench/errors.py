"""User-facing errors: the CLI prints their message and exits non-zero, with no traceback."""

from __future__ import annotations


class CodecbenchError(Exception):
    """An error caused by the user's input or environment, with a message that says what to do."""

    exit_code = 2


class UnknownNameError(CodecbenchError):
    """A codec, dataset, metric or sequence name that is not registered."""

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        listing = ", ".join(sorted(known)) or "(none registered)"
        super().__init__(f"unknown {kind} {name!r}; known {kind}s: {listing}")
        self.kind, self.name, self.known = kind, name, known


class InputFormatError(CodecbenchError):
    """An input file or resolution that cannot be used as given."""


class UnsupportedInputError(CodecbenchError):
    """A codec or metric cannot take this input (resolution, bit depth, chroma format)."""


class CodecUnavailableError(CodecbenchError):
    """A codec or metric lacks a requirement (binary, weights, device)."""


class BitstreamError(CodecbenchError):
    """A bitstream is truncated, corrupt or was written by another codec or version."""


class ToolError(CodecbenchError):
    """An external tool (ffmpeg, an encoder binary) failed; carries the tail of its stderr."""
