"""The submission format (``codecbench-submission/2``) and its validation.

A submission is one JSON file (documented in ``results/README.md``) holding one codec's results on
one dataset, with provenance, and the HEVC anchor rows it was compared with. Format 2 adds what it
takes to re-check every number from its bitstream: each row's ``bitstream_sha256`` and
``decoded_sha256``, and the codec ``options`` and bitstream ``suffix`` that rebuild the decoder.
Format 1 files (without them) stay readable, and count as unverifiable.

Everything in a submission is untrusted: :func:`parse` and :func:`validate` reject oversized files,
NaN/Infinity, wrong types, names that could be markup or paths, hashes that are not hashes,
inconsistent units, and incomplete or duplicated curves, each with a message that says where and
what.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from codecbench.bd import MIN_POINTS
from codecbench.errors import CodecbenchError
from codecbench.metrics.info import metric_info
from codecbench.run.tables import DEFAULT_ANCHOR

FORMAT = "codecbench-submission/2"
#: The first format, without bitstream provenance: still read, never verifiable.
FORMAT_V1 = "codecbench-submission/1"
FORMATS = (FORMAT, FORMAT_V1)
#: Largest submission file accepted, in bytes.
MAX_BYTES = 8 * 1024 * 1024
MAX_ROWS = 20_000
MAX_STRING = 500
MAX_DEPTH = 8
#: The leaderboard ranks every codec against this anchor plugin.
ANCHOR_PLUGIN = DEFAULT_ANCHOR
#: Codec, dataset, sequence, metric and rate point names: no markup, no path separators, no quotes.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+=,:@()\[\]\- ]{0,99}$")
NAME_RULE = (
    "letters, digits, space and _.+=,:@()[]- only, at most 100 characters, starting with a letter or digit"
)
#: Versions are free text such as ``VVenC 1.15.0-dev; ffmpeg version n9.0.2-17-g2a571b6068`` or
#: ``codecbench_divinr 0.1.0; backbone org/model@main; torch 2.4.0+cu121``: a wider character set
#: and length than names, still without markup (<>&"'`), backslashes or control characters. They
#: are HTML- and Markdown-escaped wherever they are shown and never used as paths.
MAX_VERSION = 200
VERSION_RE = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9_.+=,;:/@~()\[\]\- ]{{0,{MAX_VERSION - 1}}}$")
VERSION_RULE = (
    f"letters, digits, space and _.+=,;:/@~()[]- only, at most {MAX_VERSION} characters, "
    "starting with a letter or digit"
)
#: SHA-256 digests: exactly 64 lowercase hexadecimal characters (they name files in results/).
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
#: Bitstream file suffixes (``.hevc``, ``.obu``, ``.dvir``; empty allowed): at most two dotted parts.
SUFFIX_RE = re.compile(r"^(?:\.[A-Za-z0-9][A-Za-z0-9_-]{0,15}){0,2}$")
SUFFIX_RULE = "empty, or one or two parts of a dot then up to 16 letters, digits, _ or -"
#: Codec option names (keys of ``options``): identifiers.
OPTION_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
#: Allowed relative error between a row's bpp and bytes * 8 / (width * height * frames).
BPP_TOLERANCE = 1e-3


class SubmissionError(CodecbenchError):
    """A submission that is malformed or fails a check; ``problems`` lists every issue found."""

    def __init__(self, source: str, problems: list[str]) -> None:
        shown = problems[:20]
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"invalid submission {source}:\n  " + "\n  ".join(shown) + more)
        self.problems = problems


@dataclass(frozen=True)
class Submission:
    """A validated submission; ``data`` is the parsed JSON document."""

    data: dict[str, Any]

    @property
    def codec(self) -> str:
        return self.data["codec"]["name"]

    @property
    def version(self) -> str:
        return self.data["codec"]["version"]

    @property
    def dataset(self) -> str:
        return self.data["dataset"]["name"]

    @property
    def metrics(self) -> list[str]:
        return list(self.data["metrics"])

    @property
    def format(self) -> str:
        return self.data["format"]

    @property
    def setting(self) -> str:
        """The coding configuration of the comparison: the anchor's ``config`` (``ld``, ``ra``), or
        ``default`` when its config names none. Codecs are ranked within a dataset and setting."""
        return config_mode(self.data["anchor"].get("config")) or DEFAULT_SETTING

    @property
    def has_provenance(self) -> bool:
        """Whether it carries bitstream hashes and decoder options (format 2), so it can be verified."""
        return self.format == FORMAT

    def parts(self) -> list[tuple[str, dict[str, Any]]]:
        """``[("codec", ...), ("anchor", ...)]``: each coded part with its rows."""
        return [("codec", self.data["codec"] | {"rows": self.data["rows"]}), ("anchor", self.data["anchor"])]


#: Setting of a submission whose anchor config names no coding configuration.
DEFAULT_SETTING = "default"


def config_mode(config: Any) -> str | None:
    """The coding configuration a codec config names (its ``config`` key: ``ld``, ``ra``), if any."""
    mode = config.get("config") if isinstance(config, dict) else None
    return mode if isinstance(mode, str) and NAME_RE.fullmatch(mode) else None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed (values must be finite numbers)")


def parse(raw: bytes, source: str) -> dict[str, Any]:
    """The JSON object in ``raw``; rejects oversized input, NaN/Infinity and non-objects."""
    if len(raw) > MAX_BYTES:
        raise SubmissionError(source, [f"file is {len(raw)} bytes; the limit is {MAX_BYTES}"])
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise SubmissionError(source, ["file is not UTF-8 text"]) from None
    except (ValueError, RecursionError) as e:
        raise SubmissionError(source, [f"not valid JSON: {e}"]) from None
    if not isinstance(data, dict):
        raise SubmissionError(source, ["top level must be a JSON object"])
    return data


class _Checker:
    """Accumulates problems with JSON-path-like locations."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, where: str, what: str) -> None:
        self.problems.append(f"{where}: {what}")

    def obj(self, value: Any, where: str, required: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(where, f"must be an object, got {_type(value)}")
            return {}
        for key in required:
            if key not in value:
                self.fail(where, f"missing key {key!r}")
        return value

    def name(self, value: Any, where: str) -> str | None:
        if not isinstance(value, str):
            self.fail(where, f"must be a string, got {_type(value)}")
            return None
        if not NAME_RE.fullmatch(value):
            self.fail(where, f"{_clip(value)!r} is not a valid name ({NAME_RULE})")
            return None
        return value

    def version(self, value: Any, where: str) -> str | None:
        if not isinstance(value, str):
            self.fail(where, f"must be a string, got {_type(value)}")
            return None
        if not VERSION_RE.fullmatch(value):
            self.fail(where, f"{_clip(value)!r} is not a valid version ({VERSION_RULE})")
            return None
        return value

    def sha256(self, value: Any, where: str) -> str | None:
        if not isinstance(value, str):
            self.fail(where, f"must be a string, got {_type(value)}")
            return None
        if not SHA256_RE.fullmatch(value):
            self.fail(where, f"{_clip(value)!r} is not a SHA-256 digest (64 lowercase hex characters)")
            return None
        return value

    def suffix(self, value: Any, where: str) -> None:
        if not isinstance(value, str):
            self.fail(where, f"must be a string, got {_type(value)}")
        elif not SUFFIX_RE.fullmatch(value):
            self.fail(where, f"{_clip(value)!r} is not a valid bitstream suffix ({SUFFIX_RULE})")

    def options(self, value: Any, where: str) -> None:
        """Codec options: a JSON object of identifier keys and bounded free-form values."""
        if not isinstance(value, dict):
            self.fail(where, f"must be an object, got {_type(value)}")
            return
        for key in value:
            if not OPTION_RE.fullmatch(key):
                self.fail(where, f"{_clip(key, 40)!r} is not a valid option name (an identifier)")
        self.free(value, where)

    def number(self, value: Any, where: str, integer: bool = False) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(where, f"must be a number, got {_type(value)}")
            return None
        if integer and not isinstance(value, int):
            self.fail(where, f"must be an integer, got {value!r}")
            return None
        if not math.isfinite(value):
            self.fail(where, "must be finite")
            return None
        return float(value)

    def free(self, value: Any, where: str, depth: int = 0) -> None:
        """Free-form provenance (config, environment): JSON scalars, lists and objects, bounded."""
        if depth > MAX_DEPTH:
            self.fail(where, f"nested deeper than {MAX_DEPTH} levels")
        elif isinstance(value, str):
            if len(value) > MAX_STRING:
                self.fail(where, f"string longer than {MAX_STRING} characters")
        elif isinstance(value, dict):
            for k, v in value.items():
                if len(k) > 100:
                    self.fail(where, "key longer than 100 characters")
                self.free(v, f"{where}.{_clip(k, 40)}", depth + 1)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                self.free(v, f"{where}[{i}]", depth + 1)
        elif isinstance(value, float) and not math.isfinite(value):
            self.fail(where, "must be finite")
        elif value is not None and not isinstance(value, bool | int | float):
            self.fail(where, f"unsupported value of type {_type(value)}")


def _type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )


def _clip(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[:n] + "..."


#: Keys of every row; format 2 adds :data:`PROVENANCE_KEYS`.
ROW_KEYS = ("sequence", "rate_point", "bytes", "bpp", "frames", "width", "height", "metrics")
PROVENANCE_KEYS = ("bitstream_sha256", "decoded_sha256")


def _check_rows(
    c: _Checker,
    rows: Any,
    where: str,
    sequences: dict[str, dict[str, Any]],
    metrics: list[str],
    provenance: bool,
) -> None:
    if not isinstance(rows, list) or not rows:
        c.fail(where, "must be a non-empty array of rows")
        return
    if len(rows) > MAX_ROWS:
        c.fail(where, f"{len(rows)} rows; the limit is {MAX_ROWS}")
        return
    seen: set[tuple[str, str]] = set()
    per_seq: dict[str, int] = {}
    for i, row in enumerate(rows):
        at = f"{where}[{i}]"
        row = c.obj(row, at, ROW_KEYS + PROVENANCE_KEYS if provenance else ROW_KEYS)
        if provenance and row:
            for key in PROVENANCE_KEYS:
                if key in row:
                    c.sha256(row[key], f"{at}.{key}")
        if not row or any(k not in row for k in ("sequence", "rate_point", "bytes", "bpp", "metrics")):
            continue
        seq = c.name(row["sequence"], f"{at}.sequence")
        rp = c.name(row["rate_point"], f"{at}.rate_point")
        nbytes = c.number(row["bytes"], f"{at}.bytes", integer=True)
        bpp = c.number(row["bpp"], f"{at}.bpp")
        if seq is None or rp is None:
            continue
        if seq not in sequences:
            c.fail(f"{at}.sequence", f"{seq!r} is not listed in dataset.sequences")
            continue
        if (seq, rp) in seen:
            c.fail(at, f"duplicated row for sequence {seq!r}, rate point {rp!r}")
        seen.add((seq, rp))
        per_seq[seq] = per_seq.get(seq, 0) + 1
        info = sequences[seq]
        for key in ("frames", "width", "height"):
            got = c.number(row.get(key), f"{at}.{key}", integer=True)
            if got is not None and key in info and got != info[key]:
                c.fail(f"{at}.{key}", f"{int(got)} differs from dataset.sequences ({info[key]})")
        if nbytes is not None and nbytes <= 0:
            c.fail(f"{at}.bytes", f"must be positive, got {int(nbytes)}")
        if (
            bpp is not None
            and nbytes is not None
            and nbytes > 0
            and {"frames", "width", "height"} <= set(info)
        ):
            expected = nbytes * 8 / (info["width"] * info["height"] * info["frames"])
            raw = info.get("bit_depth", 8) * 1.5
            if bpp <= 0 or bpp > 2 * raw:
                c.fail(f"{at}.bpp", f"{bpp} is outside the plausible range (0, {2 * raw}] bits per pixel")
            elif abs(bpp - expected) > BPP_TOLERANCE * expected:
                c.fail(
                    f"{at}.bpp",
                    f"{bpp} does not match bytes*8/(width*height*frames) = {expected:.6g} "
                    "(bpp must be bits per pixel of the whole sequence)",
                )
        values = c.obj(row["metrics"], f"{at}.metrics", tuple(metrics))
        for metric in metrics:
            if metric in values:
                v = c.number(values[metric], f"{at}.metrics.{metric}")
                low, high = metric_info(metric).value_range
                if v is not None and not low <= v <= high:
                    c.fail(f"{at}.metrics.{metric}", f"{v} is outside the valid range [{low}, {high}]")
        for extra in set(values) - set(metrics):
            c.fail(f"{at}.metrics", f"{_clip(str(extra), 40)!r} is not listed in 'metrics'")
    for seq in sequences:
        if per_seq.get(seq, 0) < MIN_POINTS:
            c.fail(
                where, f"sequence {seq!r} has {per_seq.get(seq, 0)} rows; at least {MIN_POINTS} are needed"
            )


def _check_dataset_metrics(c: _Checker, rows: Any, where: str) -> None:
    if rows is None:
        return
    if not isinstance(rows, list) or len(rows) > MAX_ROWS:
        c.fail(where, f"must be an array of at most {MAX_ROWS} rows")
        return
    seen: set[tuple[str, str]] = set()
    for i, row in enumerate(rows):
        at = f"{where}[{i}]"
        row = c.obj(row, at, ("metric", "rate_point", "bpp", "value"))
        if not row or any(k not in row for k in ("metric", "rate_point", "bpp", "value")):
            continue
        metric, rp = c.name(row["metric"], f"{at}.metric"), c.name(row["rate_point"], f"{at}.rate_point")
        bpp, value = c.number(row["bpp"], f"{at}.bpp"), c.number(row["value"], f"{at}.value")
        if bpp is not None and bpp <= 0:
            c.fail(f"{at}.bpp", "must be positive")
        if metric and value is not None:
            low, high = metric_info(metric).value_range
            if not low <= value <= high:
                c.fail(f"{at}.value", f"{value} is outside the valid range [{low}, {high}]")
        if metric and rp:
            if (metric, rp) in seen:
                c.fail(at, f"duplicated row for metric {metric!r}, rate point {rp!r}")
            seen.add((metric, rp))


def _check_decoder(c: _Checker, part: dict[str, Any], where: str) -> None:
    """``options`` and ``suffix`` of a format-2 codec or anchor part, when present."""
    if "options" in part:
        c.options(part["options"], f"{where}.options")
    if "suffix" in part:
        c.suffix(part["suffix"], f"{where}.suffix")


def validate(data: dict[str, Any], source: str = "submission") -> Submission:
    """Check every rule of the format; raises :class:`SubmissionError` listing all problems."""
    c = _Checker()
    keys = (
        "format",
        "codec",
        "dataset",
        "date",
        "environment",
        "codecbench_version",
        "metrics",
        "rows",
        "anchor",
    )
    c.obj(data, "$", keys)
    if data.get("format") not in FORMATS:
        c.fail("$.format", f"must be {FORMAT!r} (or the older {FORMAT_V1!r})")
    if c.problems:
        raise SubmissionError(source, c.problems)
    provenance = data["format"] == FORMAT
    part_keys = ("name", "plugin", "version", "config") + (("options", "suffix") if provenance else ())
    codec = c.obj(data["codec"], "$.codec", part_keys)
    for key in ("name", "plugin"):
        if key in codec:
            c.name(codec[key], f"$.codec.{key}")
    if "version" in codec:
        c.version(codec["version"], "$.codec.version")
    c.free(codec.get("config"), "$.codec.config")
    if provenance:
        _check_decoder(c, codec, "$.codec")
    c.free(data["environment"], "$.environment")
    c.version(data["codecbench_version"], "$.codecbench_version")
    if not isinstance(data["date"], str):
        c.fail("$.date", "must be an ISO 8601 string")
    else:
        try:
            date = dt.datetime.fromisoformat(data["date"])
            date = date if date.tzinfo else date.replace(tzinfo=dt.UTC)
            if date > dt.datetime.now(dt.UTC) + dt.timedelta(days=1):
                c.fail("$.date", "is in the future")
        except ValueError:
            c.fail("$.date", f"{_clip(data['date'])!r} is not an ISO 8601 date")
    metrics = data["metrics"]
    if not isinstance(metrics, list) or not metrics:
        c.fail("$.metrics", "must be a non-empty array of metric names")
        metrics = []
    metrics = [m for i, m in enumerate(metrics) if c.name(m, f"$.metrics[{i}]")]
    if len(set(metrics)) != len(metrics):
        c.fail("$.metrics", "lists a metric twice")
    dataset = c.obj(data["dataset"], "$.dataset", ("name", "sequences"))
    c.name(dataset.get("name"), "$.dataset.name")
    sequences: dict[str, dict[str, Any]] = {}
    seq_list = dataset.get("sequences")
    if not isinstance(seq_list, list) or not seq_list:
        c.fail("$.dataset.sequences", "must be a non-empty array")
        seq_list = []
    for i, s in enumerate(seq_list[:MAX_ROWS]):
        at = f"$.dataset.sequences[{i}]"
        s = c.obj(s, at, ("name", "width", "height", "frames", "fps", "bit_depth"))
        name = c.name(s.get("name"), f"{at}.name")
        info: dict[str, Any] = {}
        for key in ("width", "height", "frames", "bit_depth"):
            v = c.number(s.get(key), f"{at}.{key}", integer=True)
            if v is not None and not 0 < v <= 65536:
                c.fail(f"{at}.{key}", f"{int(v)} is out of range")
            elif v is not None:
                info[key] = int(v)
        if info.get("bit_depth") not in (None, 8, 10):
            c.fail(f"{at}.bit_depth", "must be 8 or 10")
        fps = c.number(s.get("fps"), f"{at}.fps")
        if fps is not None and not 0 < fps <= 1000:
            c.fail(f"{at}.fps", f"{fps} is out of range")
        if name is not None:
            if name in sequences:
                c.fail(f"{at}.name", f"sequence {name!r} is listed twice")
            sequences[name] = info
    _check_rows(c, data["rows"], "$.rows", sequences, metrics, provenance)
    _check_dataset_metrics(c, data.get("dataset_metrics"), "$.dataset_metrics")
    anchor = c.obj(data["anchor"], "$.anchor", (*part_keys, "rows"))
    for key in ("name", "plugin"):
        if key in anchor:
            c.name(anchor[key], f"$.anchor.{key}")
    if "version" in anchor:
        c.version(anchor["version"], "$.anchor.version")
    if anchor.get("plugin") != ANCHOR_PLUGIN:
        c.fail(
            "$.anchor.plugin", f"must be {ANCHOR_PLUGIN!r}: the leaderboard ranks every codec against HEVC"
        )
    c.free(anchor.get("config"), "$.anchor.config")
    mine, theirs = config_mode(codec.get("config")), config_mode(anchor.get("config"))
    if mine and theirs and mine != theirs:
        c.fail(
            "$.anchor.config",
            f"the anchor ran config={theirs!r} but the codec config={mine!r}; compare like with like",
        )
    if provenance:
        _check_decoder(c, anchor, "$.anchor")
    if "rows" in anchor:
        _check_rows(c, anchor["rows"], "$.anchor.rows", sequences, metrics, provenance)
    _check_dataset_metrics(c, anchor.get("dataset_metrics"), "$.anchor.dataset_metrics")
    if c.problems:
        raise SubmissionError(source, c.problems)
    return Submission(data)
