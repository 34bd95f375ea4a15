"""Re-checking published submissions from their stored bitstreams (``leaderboard verify``).

For every row of a submission and of its anchor, the bitstream is read from
``results/bitstreams/`` (a path made from the row's validated SHA-256 and the part's suffix, never
from free text), its size and SHA-256 are compared with the row, and it is decoded by the codec
rebuilt from the part's ``plugin`` and ``options``; the decoded frames' SHA-256 must equal the
row's ``decoded_sha256``. A bitstream that several submissions share (the anchor rows of one run)
is decoded once.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codecbench import registry
from codecbench.codec import Codec
from codecbench.errors import CodecbenchError
from codecbench.leaderboard.schema import Submission
from codecbench.leaderboard.store import (
    BitstreamRef,
    bitstream_path,
    check_bitstream,
    inside,
    row_label,
)
from codecbench.progress import Progress
from codecbench.run.runner import decode_to_file
from codecbench.video import Clip, VideoFormat


@dataclass(frozen=True)
class Problem:
    """One row (or part) that could not be re-checked, or did not match."""

    source: str
    what: str

    def __str__(self) -> str:
        return f"{self.source}: {self.what}"


@dataclass
class Verification:
    """Outcome of :func:`verify_submissions`."""

    submissions: int = 0
    rows: int = 0
    verified: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.verified == self.rows


def _codec(plugin: str, options: dict[str, Any], cache: dict[str, Codec | str]) -> Codec | str:
    """The codec rebuilt from ``plugin`` and ``options``, or why it cannot be."""
    key = json.dumps([plugin, options], sort_keys=True)
    if key not in cache:
        try:
            cache[key] = registry.create_codec(plugin, options)
        except Exception as e:  # a plugin that is missing here, or rejects the options
            cache[key] = f"cannot rebuild the decoder {plugin!r} with options {json.dumps(options)}: {e}"
    return cache[key]


def _decode(codec: Codec, path: Path, row: dict[str, Any], seq: dict[str, Any], dataset: str) -> str:
    """SHA-256 of the frames ``codec`` decodes from ``path``, in the row's format and frame count."""
    fmt = VideoFormat(int(row["width"]), int(row["height"]), int(seq.get("bit_depth", 8)))
    clip = Clip(str(row["sequence"]), path, fmt, float(seq["fps"]), int(row["frames"]), dataset)
    with tempfile.TemporaryDirectory(prefix="codecbench-lb-verify-") as tmp:
        return decode_to_file(codec, path, clip, Path(tmp) / "decoded.yuv", Path(tmp))


def verify_submissions(
    results: Path, submissions: list[tuple[str, Submission]], progress: bool = True
) -> Verification:
    """Re-check every row of each ``(source, submission)`` from the bitstreams under ``results``."""
    out = Verification(submissions=len(submissions))
    total = sum(len(s.data["rows"]) + len(s.data["anchor"]["rows"]) for _, s in submissions)
    codecs: dict[str, Codec | str] = {}
    decoded: dict[tuple[Any, ...], str] = {}  # decode key -> decoded SHA-256, or "!" + why it failed
    bar = Progress(total, "verify", "bitstream", enabled=progress)
    try:
        for source, sub in submissions:
            sequences = {s["name"]: s for s in sub.data["dataset"]["sequences"]}
            for part, info in sub.parts():
                out.rows += len(info["rows"])
                if not sub.has_provenance:
                    bar.update(len(info["rows"]))
                    continue
                codec = _codec(info["plugin"], info["options"], codecs)
                for row in info["rows"]:
                    bar.update(postfix=f"{info['name']} {row['sequence']}")
                    label = row_label(part, info["name"], row)
                    if isinstance(codec, str):
                        out.problems.append(Problem(source, f"{label}: {codec}"))
                        continue
                    ref = BitstreamRef(label, row["bitstream_sha256"], info["suffix"], row["bytes"])
                    try:
                        path = bitstream_path(results, ref)
                        inside(results, path)
                    except CodecbenchError as e:
                        out.problems.append(Problem(source, f"{label}: {e}"))
                        continue
                    problem = check_bitstream(path, ref)
                    if problem:
                        out.problems.append(Problem(source, problem))
                        continue
                    seq = sequences[row["sequence"]]
                    key = (
                        info["plugin"], json.dumps(info["options"], sort_keys=True), ref.name,
                        row["width"], row["height"], row["frames"], seq.get("bit_depth", 8),
                    )  # fmt: skip
                    if key not in decoded:
                        try:
                            decoded[key] = _decode(codec, path, row, seq, sub.dataset)
                        except Exception as e:  # any plugin failure is this row's problem, not a crash
                            decoded[key] = f"!{type(e).__name__}: {e}"
                    sha = decoded[key]
                    if sha.startswith("!"):
                        out.problems.append(Problem(source, f"{label}: re-decoding failed: {sha[1:]}"))
                    elif sha != row["decoded_sha256"]:
                        out.problems.append(
                            Problem(
                                source,
                                f"{label}: decoded frames have SHA-256 {sha[:16]}..., "
                                f"the row's decoded_sha256 is {row['decoded_sha256'][:16]}...",
                            )
                        )
                    else:
                        out.verified += 1
            if not sub.has_provenance:
                out.problems.append(
                    Problem(
                        source,
                        f"format {sub.format!r} carries no bitstream hashes: none of its "
                        f"{len(sub.data['rows']) + len(sub.data['anchor']['rows'])} rows can be re-checked",
                    )
                )
    finally:
        bar.close()
    return out
