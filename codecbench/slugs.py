"""File-name-safe forms of names (codecs, datasets, sequences, versions), one rule for the project."""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def slug(text: str, sep: str = "_", strip_dots: bool = False, limit: int | None = None) -> str:
    """``text`` with each run of characters outside ``[A-Za-z0-9._-]`` replaced by ``sep``.

    ``sep`` is trimmed from both ends (and dots too when ``strip_dots``, so the name is never
    hidden); ``limit`` cuts the result to that many characters. An empty result becomes ``"x"``.
    The rule is part of run folders' and published files' names: changing it renames them.
    """
    s = _UNSAFE.sub(sep, str(text)).strip(sep + ("." if strip_dots else ""))
    return (s[:limit] if limit is not None else s) or "x"
