"""Leaderboard: export -> submit -> verify -> build, bitstream provenance, rejection of malformed
and hostile submissions, deterministic pages, and a re-check of what the repository publishes."""

from __future__ import annotations

import copy
import hashlib
import html
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from codecbench import bd
from codecbench.cli import main
from codecbench.errors import CodecbenchError
from codecbench.leaderboard import SubmissionError, build, make_submission, parse, submit, validate
from codecbench.leaderboard.schema import FORMAT, FORMAT_V1, MAX_BYTES
from codecbench.leaderboard.store import published_name, submission_path
from codecbench.report import load_run
from tests.conftest import cli
from tests.test_bd import synthetic_results
from tests.test_report import make_run

#: The repository's published results.
REPO_RESULTS = Path(__file__).resolve().parents[1] / "results"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def add_provenance(run: Path) -> Path:
    """Give a synthetic run what a real one has and an export needs: a job record per row (with the
    codec options) and, for each successful row, a stored bitstream (seeded random bytes of the
    row's size) whose SHA-256 results.csv holds, with a decoded SHA-256."""
    df = pd.read_csv(run / "results.csv", dtype={"rate_point": str})
    rng = np.random.default_rng(1)
    (run / "jobs").mkdir(exist_ok=True)
    columns: dict[str, list[Any]] = {
        "job_id": [],
        "bitstream_path": [],
        "bitstream_sha256": [],
        "decoded_sha256": [],
    }
    for i, r in df.iterrows():
        job_id = f"{r['codec_plugin']}-{r['dataset']}-{r['sequence']}-{r['rate_point']}-{i:04d}"
        options = {"preset": "fast"} if r["codec_plugin"] == "hevc" else {}
        (run / "jobs" / f"{job_id}.json").write_text(json.dumps({"job_id": job_id, "codec_options": options}))
        columns["job_id"].append(job_id)
        if r["status"] != "ok":
            for key in ("bitstream_path", "bitstream_sha256", "decoded_sha256"):
                columns[key].append("")
            continue
        data = rng.bytes(int(r["bytes"]))
        rel = f"bitstreams/{r['codec_plugin']}/{job_id}{'.hevc' if r['codec_plugin'] == 'hevc' else '.bin'}"
        (run / rel).parent.mkdir(parents=True, exist_ok=True)
        (run / rel).write_bytes(data)
        columns["bitstream_path"].append(rel)
        columns["bitstream_sha256"].append(_sha(data))
        columns["decoded_sha256"].append(_sha(b"decoded" + data))
    for key, values in columns.items():
        df[key] = values
    df.to_csv(run / "results.csv", index=False)
    return run


def synthetic_run(root: Path, sequences: dict[str, float], scale: dict[str, float]) -> Path:
    """A run of hevc and vvc (vvc needs 0.75x the rate) whose vvc rows of each sequence in ``scale``
    take that many times their bytes, so each sequence has its own known BD-rate."""
    df = synthetic_results({"hevc": 1.0, "vvc": 0.75}, sequences=sequences)
    factor = np.where(df["codec"] == "vvc", df["sequence"].map(scale).fillna(1.0), 1.0)
    df["bytes"] = np.rint(df["bytes"] * factor).astype(int)
    df["bpp"] = df["bpp"] * factor
    root.mkdir(parents=True)
    df.to_csv(root / "results.csv", index=False)
    return add_provenance(root)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return add_provenance(make_run(tmp_path_factory.mktemp("lb") / "run"))


@pytest.fixture()
def good(run_dir: Path) -> dict[str, Any]:
    return make_submission(load_run(run_dir), codec="vvc")


def _write(tmp_path: Path, data: Any, name: str = "sub.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_export_submit_build_roundtrip(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    for codec in ("vvc", "divinr[tiny]"):
        out = tmp_path / f"{published_name(codec)}.json"
        assert main(["leaderboard", "export", str(run_dir), "--codec", codec, "--out", str(out)]) == 0
        assert main(["leaderboard", "--results-dir", str(results), "submit", str(out)]) == 0
    stored = sorted((results / "submissions" / "sample").iterdir())
    assert len(stored) == 2
    sub = json.loads(stored[-1].read_text())
    assert sub["anchor"]["name"] == "hevc" and len(sub["anchor"]["rows"]) == 12
    assert {"codec", "environment", "date", "dataset", "codecbench_version"} <= set(sub)
    assert {s["frames"] for s in sub["dataset"]["sequences"]} == {3}
    # Resubmitting the same codec version is refused unless --replace.
    assert main(["leaderboard", "--results-dir", str(results), "submit", str(tmp_path / "vvc.json")]) == 2
    assert "already submitted" in capsys.readouterr().err
    assert (
        main(
            ["leaderboard", "--results-dir", str(results), "submit", "--replace", str(tmp_path / "vvc.json")]
        )
        == 0
    )

    assert main(["leaderboard", "--results-dir", str(results), "build"]) == 0
    board = json.loads((results / "leaderboard" / "leaderboard.json").read_text())
    psnr = board["datasets"]["sample"]["default"]["psnr_y"]
    assert [e["codec"] for e in psnr["rate"]] == ["vvc", "divinr[tiny]"]
    assert psnr["rate"][0]["value"] == pytest.approx(-25.0, abs=1e-6) and psnr["rate"][0]["rank"] == 1
    assert psnr["rate"][1]["value"] == pytest.approx(25.0, abs=1e-6)
    lpips = board["datasets"]["sample"]["default"]["lpips_alex"]["quality"]
    assert lpips[0]["codec"] == "vvc" and lpips[0]["value"] > 0  # LPIPS reduction: positive = better
    assert "fid" in board["datasets"]["sample"]["default"]  # dataset-level metric ranked too
    md = (results / "leaderboard" / "leaderboard.md").read_text()
    assert "| 1 | vvc | 1.0 | -25.00 %" in md and "divinr\\[tiny\\] (stand-in)" in md
    page = (results / "leaderboard" / "index.html").read_text()
    assert "<h4>psnr_y</h4>" in page and "stand-in model" in page


def test_submission_strings_are_escaped_in_html(good: dict[str, Any], tmp_path: Path) -> None:
    good["codec"]["config"] = {"note": "<script>alert('x')</script>", "<b>key</b>": "&amp;"}
    good["environment"]["host"] = "<img src=x onerror=alert(1)>"
    results = tmp_path / "results"
    submit(_write(tmp_path, good), results)
    page = (build(results) / "index.html").read_text()
    assert "<script>" not in page and "<img" not in page and "<b>key" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page


def _mutate(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(data)
    *parents, last = path.split(".")
    node: Any = data
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node[p]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return data


CASES = [
    ("format", "codecbench-submission/0", "$.format: must be 'codecbench-submission/2'"),
    ("format", "codecbench-submission/3", "(or the older 'codecbench-submission/1')"),
    ("rows.0.bitstream_sha256", "../../../etc/passwd", "is not a SHA-256 digest"),
    ("rows.0.bitstream_sha256", "AB" * 32, "is not a SHA-256 digest"),  # uppercase: names must be canonical
    ("rows.0.bitstream_sha256", "ab" * 31, "is not a SHA-256 digest"),
    ("rows.0.bitstream_sha256", "ab" * 32 + "\n", "is not a SHA-256 digest"),
    ("rows.0.bitstream_sha256", 12, "must be a string, got number"),
    ("anchor.rows.1.decoded_sha256", "g" * 64, "is not a SHA-256 digest"),
    ("rows.0.decoded_sha256", None, "must be a string, got null"),
    ("codec.options", "preset=fast", "$.codec.options: must be an object"),
    ("anchor.options", {"../x": 1}, "is not a valid option name"),
    ("codec.options", {"preset": "x" * 600}, "longer than 500"),
    ("codec.suffix", "/../../x", "is not a valid bitstream suffix"),
    ("anchor.suffix", ".hevc/..", "is not a valid bitstream suffix"),
    ("codec.suffix", "hevc", "is not a valid bitstream suffix"),
    ("codec.suffix", ".a.b.c", "is not a valid bitstream suffix"),
    ("codec.name", "<script>alert(1)</script>", "is not a valid name"),
    ("codec.name", "../../etc/passwd", "is not a valid name"),
    ("codec.version", 3, "must be a string, got number"),
    ("rows.0.bytes", -100, "must be positive"),
    ("rows.0.bytes", "100", "must be a number, got string"),
    ("rows.0.bytes", 10.5, "must be an integer"),
    ("rows.0.bpp", True, "must be a number, got boolean"),
    ("rows.0.bpp", 1500.0, "outside the plausible range"),
    ("rows.1.bpp", 0.2, "does not match bytes*8/(width*height*frames)"),
    ("rows.0.frames", 30, "differs from dataset.sequences"),
    ("rows.0.width", 1920, "differs from dataset.sequences"),
    ("rows.0.sequence", "seq_z", "is not listed in dataset.sequences"),
    (
        "rows.0.metrics",
        {"psnr_y": 30.0, "vmaf": 300.0, "lpips_alex": 0.1},
        "outside the valid range [0.0, 100.0]",
    ),
    ("rows.0.metrics", {"psnr_y": 30.0, "vmaf": 80.0}, "missing key 'lpips_alex'"),
    ("rows", [], "must be a non-empty array"),
    ("anchor.plugin", "av1", "must be 'hevc'"),
    ("date", "yesterday", "is not an ISO 8601 date"),
    ("date", "2999-01-01T00:00:00+00:00", "is in the future"),
    ("metrics", "psnr_y", "must be a non-empty array"),
    ("dataset.sequences.0.bit_depth", 12, "must be 8 or 10"),
    ("codec.config", {"a": "x" * 600}, "longer than 500"),
]


@pytest.mark.parametrize(("path", "value", "message"), CASES, ids=[f"{p}={str(v)[:20]}" for p, v, _ in CASES])
def test_malformed_submissions_are_rejected(
    good: dict[str, Any], path: str, value: Any, message: str
) -> None:
    validate(good)  # the unmodified export is valid
    with pytest.raises(SubmissionError) as info:
        validate(_mutate(good, path, value))
    assert message in str(info.value)


def test_structural_rejections(
    good: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dup = copy.deepcopy(good)
    dup["rows"].append(copy.deepcopy(dup["rows"][0]))
    with pytest.raises(SubmissionError, match="duplicated row for sequence 'seq_a'"):
        validate(dup)
    few = copy.deepcopy(good)
    few["rows"] = [r for r in few["rows"] if not (r["sequence"] == "seq_b" and r["rate_point"] == "40")]
    with pytest.raises(SubmissionError, match="sequence 'seq_b' has 3 rows; at least 4"):
        validate(few)
    missing_anchor = copy.deepcopy(good)
    missing_anchor["anchor"]["rows"] = [r for r in good["anchor"]["rows"] if r["sequence"] != "seq_c"]
    with pytest.raises(SubmissionError, match=r"\$.anchor.rows: sequence 'seq_c' has 0 rows"):
        validate(missing_anchor)
    deep: Any = "x"
    for _ in range(20):
        deep = {"k": deep}
    with pytest.raises(SubmissionError, match="nested deeper"):
        validate(_mutate(good, "codec.config", deep))
    text = json.dumps(good)
    for bad, message in [
        (text.replace('"bpp": 0.0625', '"bpp": NaN', 1), "NaN is not allowed"),
        (text.replace('"bpp": 0.0625', '"bpp": Infinity', 1), "Infinity is not allowed"),
        ("[1, 2]", "top level must be a JSON object"),
        ("{" * 100_000, "not valid JSON"),
        ("{'single': 'quotes'}", "not valid JSON"),
    ]:
        with pytest.raises(SubmissionError, match=message):
            parse(bad.encode(), "t")
    with pytest.raises(SubmissionError, match="not UTF-8"):
        parse(b"\xff\xfe{}", "t")
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as f:
        f.truncate(MAX_BYTES + 1)  # sparse: nothing is read before the size check
    assert main(["leaderboard", "--results-dir", str(tmp_path / "r"), "submit", str(huge)]) == 2
    assert f"the limit is {MAX_BYTES}" in capsys.readouterr().err
    assert (
        main(["leaderboard", "--results-dir", str(tmp_path / "r"), "submit", str(_write(tmp_path, "[]"))])
        == 2
    )
    assert "top level must be a JSON object" in capsys.readouterr().err
    assert not (tmp_path / "r" / "submissions").exists()  # nothing was stored


def test_file_names_never_escape_results(good: dict[str, Any], tmp_path: Path) -> None:
    results = tmp_path / "results"
    for name in ("a..b", "x[y] (z)", "A=1,b+2", "x. .y"):
        sub = validate(_mutate(good, "codec.name", name))
        path = submission_path(results, sub)
        assert path.resolve().is_relative_to(results.resolve()) and path.parent.name == "sample"
        assert "/" not in path.name and not path.name.startswith(".")
    assert published_name("../../etc/passwd") == "etc-passwd" and published_name("..") == "x"

    outside = tmp_path / "outside"
    outside.mkdir()
    # The dataset folder is a symlink pointing outside results/: refused, nothing written outside.
    (results / "submissions").mkdir(parents=True)
    (results / "submissions" / "sample").symlink_to(outside, target_is_directory=True)
    with pytest.raises(CodecbenchError, match="symbolic link"):
        submit(_write(tmp_path, good), results)
    assert list(outside.iterdir()) == []
    (results / "submissions" / "sample").unlink()

    # A symlinked submission file is refused on submit, and on build when planted in results/.
    real = _write(tmp_path, good, "real.json")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    with pytest.raises(SubmissionError, match="symbolic link"):
        submit(link, results)
    submit(real, results)
    planted = results / "submissions" / "sample" / "planted.json"
    planted.symlink_to(outside / "secret.json")
    with pytest.raises(CodecbenchError, match="symbolic link"):
        build(results)
    planted.unlink()
    # The leaderboard output folder may not be a symlink either.
    os.symlink(outside, results / "leaderboard")
    with pytest.raises(CodecbenchError, match="symbolic link"):
        build(results)
    assert list(outside.iterdir()) == []


# --- versions: free text from real encoders, still no markup -----------------------------------

REAL_VERSIONS = [
    "x265 4.3+49-020d7054; ffmpeg version n9.0.2-17-g2a571b6068-20260930",
    "VVenC 1.15.0-dev; ffmpeg version n9.0.2-17-g2a571b6068-20260930",
    "libaom v3.15.1; ffmpeg version n9.0.2-17-g2a571b6068-20260930",
    "codecbench_divinr 0.1.0; backbone stabilityai/stable-video-diffusion-img2vid-xt@main; "
    "diffusers 0.35.1; torch 2.14.1+cu130",
    "compressai 1.2.6, torch 2.4.0+cu121",
    "HM 18.0 (/opt/HM/bin/TAppEncoderStatic)",
    "toy-codec 0.1.0; zlib 1.3.1",
    "1.0~rc1 [debian]",
]


@pytest.mark.parametrize("version", REAL_VERSIONS)
def test_real_encoder_versions_are_accepted(good: dict[str, Any], version: str) -> None:
    validate(_mutate(_mutate(good, "codec.version", version), "anchor.version", version))


HOSTILE_VERSIONS = [
    ("<script>alert(1)</script>", "is not a valid version"),
    ("1.0 <b>bold</b>", "is not a valid version"),
    ("1.0 & co", "is not a valid version"),
    ('1.0" onmouseover="alert(1)', "is not a valid version"),
    ("1.0' x", "is not a valid version"),
    ("1.0 `rm -rf`", "is not a valid version"),
    ("1.0\\x", "is not a valid version"),
    ("1.0\nInjected: line", "is not a valid version"),
    ("1.0\n", "is not a valid version"),  # a trailing newline is refused too (fullmatch, not $)
    ("1.0\ttab", "is not a valid version"),
    ("1.0\x00", "is not a valid version"),
    ("1.0\u202egnp.exe", "is not a valid version"),  # bidi override
    ("x" * 201, "is not a valid version"),
    (" 1.0", "is not a valid version"),
    ("", "is not a valid version"),
    (["1.0"], "must be a string, got array"),
]


@pytest.mark.parametrize(
    ("version", "message"), HOSTILE_VERSIONS, ids=[repr(v)[:24] for v, _ in HOSTILE_VERSIONS]
)
@pytest.mark.parametrize("where", ["codec.version", "anchor.version", "codecbench_version"])
def test_hostile_versions_are_refused(good: dict[str, Any], where: str, version: Any, message: str) -> None:
    with pytest.raises(SubmissionError) as info:
        validate(_mutate(good, where, version))
    assert f"$.{where}: " in str(info.value) and message in str(info.value)


def test_names_keep_their_strict_rules(good: dict[str, Any]) -> None:
    """Names stay narrower than versions: no ';' or '/', no trailing newline; ':' and '@' are fine
    (labels such as ``mbt2018[ckpt:mine]``, rate points such as ``m@5``)."""
    for bad in ("hevc; x", "a/b", "hevc\n", "x" * 101):
        with pytest.raises(SubmissionError, match="is not a valid name"):
            validate(_mutate(good, "codec.name", bad))
    validate(_mutate(good, "codec.name", "mbt2018[ms-ssim,ckpt:mine]"))
    validate(_mutate(good, "rows.0.rate_point", "m@5"))


def _with_versions(run_dir: Path, tmp_path: Path, versions: dict[str, str]) -> Path:
    """A copy of the synthetic run whose rows carry these codec versions."""
    import shutil

    import pandas as pd

    copy_dir = tmp_path / "run"
    shutil.copytree(run_dir, copy_dir)
    results = pd.read_csv(copy_dir / "results.csv")
    results["codec_version"] = results["codec"].map(versions)
    results.to_csv(copy_dir / "results.csv", index=False)
    return copy_dir


def test_bracketed_label_and_real_versions_export_submit_build(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    divinr = "codecbench_divinr 0.1.0; backbone tiny@tiny-v2; diffusers 0.35.1; torch 2.14.1+cu130"
    hevc = "x265 4.3+49-020d7054; ffmpeg version n9.0.2-17-g2a571b6068-20260930"
    vvc = "VVenC 1.15.0-dev; ffmpeg version n9.0.2-17-g2a571b6068-20260930 <b>"  # hostile tail
    run = _with_versions(run_dir, tmp_path, {"divinr[tiny]": divinr, "hevc": hevc, "vvc": vvc})
    results = tmp_path / "results"
    out = tmp_path / "divinr.json"
    assert main(["leaderboard", "export", str(run), "--codec", "divinr[tiny]", "--out", str(out)]) == 0
    sub = json.loads(out.read_text())
    assert sub["codec"]["name"] == "divinr[tiny]" and sub["codec"]["version"] == divinr
    assert sub["anchor"]["version"] == hevc
    assert main(["leaderboard", "--results-dir", str(results), "submit", str(out)]) == 0
    stored = list((results / "submissions" / "sample").iterdir())
    assert [p.name.split("--")[0] for p in stored] == ["divinr-tiny"]  # slugged, no brackets in paths
    # An export whose version could be markup is refused before anything is written.
    bad = tmp_path / "vvc.json"
    assert main(["leaderboard", "export", str(run), "--codec", "vvc", "--out", str(bad)]) == 2
    assert "$.codec.version" in capsys.readouterr().err and not bad.exists()
    assert main(["leaderboard", "--results-dir", str(results), "build"]) == 0
    md = (results / "leaderboard" / "leaderboard.md").read_text()
    md_version = divinr.replace("_", "\\_")  # Markdown-escaped
    assert f"| 1 | divinr\\[tiny\\] (stand-in) | {md_version} | +25.00 %" in md
    page = (results / "leaderboard" / "index.html").read_text()
    assert f"<td>divinr[tiny]</td><td>{html.escape(divinr)}</td>" in page and "stand-in model" in page


# --- the whole user path on a real run ---------------------------------------------------------


@pytest.mark.slow
def test_real_anchor_run_to_published_leaderboard(tmp_path: Path) -> None:
    """``run`` (HEVC, VVC and AV1 in random access, labelled ``name[ra]``) -> ``verify`` ->
    ``leaderboard export`` -> ``submit`` -> ``verify`` -> ``build``, as a user types them; the
    leaderboard shows each codec with the BD numbers its own results.csv gives against the run's
    HEVC, in the random-access setting, and every row re-decodes with the options of the run."""
    import pandas as pd

    from codecbench import bd
    from codecbench.datasets import get_dataset
    from codecbench.leaderboard.build import _fmt, _md
    from tests.conftest import cli

    seq = get_dataset("sample").sequences[0].name
    run, results = tmp_path / "codecbench-out", tmp_path / "results"
    proc = cli(
        "run", "--codecs", "hevc,vvc,av1", "--dataset", "sample", "--frames", "3", "--sequences", seq,
        "--metrics", "psnr_y", "--codec-opt", "hevc.config=ra", "--codec-opt", "vvc.config=ra",
        "--codec-opt", "av1.config=ra", "--threads", "1", "--out", run, "--quiet",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert cli("verify", run).returncode == 0
    table = pd.read_csv(run / "results.csv")
    versions = dict(zip(table["codec"], table["codec_version"]))
    assert (
        ";" in versions["vvc[ra]"] and ";" in versions["hevc[ra]"]
    )  # real versions: "VVenC 1.x; ffmpeg ..."
    for codec in ("vvc[ra]", "av1[ra]"):
        out = tmp_path / f"{published_name(codec)}.json"
        assert main(["leaderboard", "export", str(run), "--codec", codec, "--out", str(out)]) == 0
        sub = json.loads(out.read_text())
        assert sub["codec"]["version"] == versions[codec] and sub["anchor"]["version"] == versions["hevc[ra]"]
        assert sub["codec"]["config"]["config"] == "ra" and sub["anchor"]["config"]["config"] == "ra"
        assert sub["codec"]["options"] == {"config": "ra"} and sub["anchor"]["options"] == {"config": "ra"}
        assert sub["anchor"]["name"] == "hevc[ra]"
        ours = table[table["codec"] == codec].sort_values("bpp")
        assert [r["bytes"] for r in sub["rows"]] == list(ours["bytes"])
        assert main(["leaderboard", "--results-dir", str(results), "submit", str(out)]) == 0
    assert len(list((results / "bitstreams").rglob("*.*"))) == len(table)  # the anchor's stored once
    assert main(["leaderboard", "--results-dir", str(results), "verify", "--quiet"]) == 0
    assert main(["leaderboard", "--results-dir", str(results), "build"]) == 0

    board = json.loads((results / "leaderboard" / "leaderboard.json").read_text())
    assert list(board["datasets"]["sample"]) == ["ra"]
    ranked = board["datasets"]["sample"]["ra"]["psnr_y"]["rate"]
    assert sorted(e["codec"] for e in ranked) == ["av1[ra]", "vvc[ra]"] and [e["rank"] for e in ranked] == [
        1,
        2,
    ]
    curves = bd.curves_from_results(table, "psnr_y")
    expected = bd.bd_table(curves, "hevc[ra]", "psnr_y", mode="rate")
    md = (results / "leaderboard" / "leaderboard.md").read_text()
    page = (results / "leaderboard" / "index.html").read_text()
    assert "### against HEVC, random access (config=ra)" in md
    for e in ranked:
        mine = expected[(expected["codec"] == e["codec"]) & (expected["sequence"] == bd.ALL_SEQUENCES)]
        assert e["value"] == pytest.approx(float(mine["value"].iloc[0]), abs=1e-9)
        shown = _fmt(e, "rate")
        assert f"| {e['rank']} | {_md(e['codec'])} | {_md(versions[e['codec']])} | {shown} |" in md
        assert (
            f"<td>{e['codec']}</td><td>{html.escape(versions[e['codec']])}</td><td class='n'>{shown}</td>"
            in page
        )


# --- bitstream provenance: export, submit, verify -----------------------------------------------


def _lb(results: Path, *args: str) -> int:
    return main(["leaderboard", "--results-dir", str(results), *args])


def _export(run: Path, codec: str, out: Path) -> dict[str, Any]:
    assert main(["leaderboard", "export", str(run), "--codec", codec, "--out", str(out)]) == 0
    return json.loads(out.read_text())


def _stored(results: Path) -> list[Path]:
    return sorted(p for p in (results / "bitstreams").rglob("*") if p.is_file())


def test_export_carries_hashes_options_and_bitstreams(run_dir: Path, tmp_path: Path) -> None:
    sub = _export(run_dir, "vvc", tmp_path / "vvc.json")
    table = pd.read_csv(run_dir / "results.csv", dtype={"rate_point": str})
    assert sub["format"] == FORMAT
    assert sub["codec"]["options"] == {} and sub["codec"]["suffix"] == ".bin"
    assert sub["anchor"]["options"] == {"preset": "fast"} and sub["anchor"]["suffix"] == ".hevc"
    folder = tmp_path / "vvc.bitstreams"
    for part, codec in (("rows", "vvc"), ("anchor", "hevc")):
        rows = sub[part] if part == "rows" else sub["anchor"]["rows"]
        suffix = sub["codec" if part == "rows" else "anchor"]["suffix"]
        for r in rows:
            mine = table[(table["codec"] == codec) & (table["sequence"] == r["sequence"])]
            mine = mine[mine["rate_point"] == r["rate_point"]].iloc[0]
            assert (r["bitstream_sha256"], r["decoded_sha256"]) == (
                mine["bitstream_sha256"],
                mine["decoded_sha256"],
            )
            copy_ = folder / f"{r['bitstream_sha256']}{suffix}"
            assert copy_.read_bytes() == (run_dir / mine["bitstream_path"]).read_bytes()
            assert copy_.stat().st_size == r["bytes"]
    assert len(list(folder.iterdir())) == 24  # 12 vvc rows and 12 hevc rows


def test_export_refuses_a_run_whose_bitstream_does_not_match(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    table = pd.read_csv(run / "results.csv")
    victim = run / table[table["codec"] == "vvc"]["bitstream_path"].iloc[2]
    data = bytearray(victim.read_bytes())
    data[5] ^= 0x01
    victim.write_bytes(bytes(data))
    out = tmp_path / "vvc.json"
    assert main(["leaderboard", "export", str(run), "--codec", "vvc", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert (
        "codec vvc: seq_a @ 30: bitstream" in err
        and "different SHA-256" in err
        and "codecbench verify" in err
    )
    assert not out.exists()
    # The anchor is no entry of its own: it would be compared with itself.
    assert main(["leaderboard", "export", str(run_dir), "--codec", "hevc", "--out", str(out)]) == 2
    assert "'hevc' is the anchor" in capsys.readouterr().err and not out.exists()


def test_anchor_bitstreams_are_stored_once(run_dir: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    _export(run_dir, "vvc", tmp_path / "vvc.json")
    _export(run_dir, "divinr[tiny]", tmp_path / "d.json")
    first = submit(tmp_path / "vvc.json", results)
    assert (first.bitstreams, first.written, first.already, first.verifiable) == (24, 24, 0, True)
    second = submit(tmp_path / "d.json", results)
    assert (second.bitstreams, second.written, second.already, second.verifiable) == (24, 12, 12, True)
    stored = _stored(results)
    assert len(stored) == 36  # 12 vvc, 12 divinr, 12 hevc shared by both
    for path in stored:  # content-addressed: bitstreams/<first two hex>/<sha256><suffix>
        sha = path.name.split(".")[0]
        assert path.parent.name == sha[:2] and _sha(path.read_bytes()) == sha
        assert path.suffix in (".bin", ".hevc") and oct(path.stat().st_mode & 0o777) == "0o644"
    # Resubmitting (--replace) with the same bitstreams rewrites nothing.
    again = submit(tmp_path / "vvc.json", results, replace=True)
    assert (again.written, again.already) == (0, 24)


def test_submit_refuses_bitstreams_that_do_not_match(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sub = _export(run_dir, "vvc", tmp_path / "vvc.json")
    folder = tmp_path / "vvc.bitstreams"
    results = tmp_path / "results"
    row = sub["rows"][3]
    target = folder / f"{row['bitstream_sha256']}.bin"
    original = target.read_bytes()
    label = f"codec vvc: {row['sequence']} @ {row['rate_point']}"
    for bad, message in [
        (
            bytes([original[0] ^ 0xFF]) + original[1:],
            "has a different SHA-256 than its row's bitstream_sha256",
        ),
        (original[:-1], f"has {len(original) - 1} bytes, the row says {len(original)}"),
        (None, "is missing"),
    ]:
        if bad is None:
            target.unlink()
        else:
            target.write_bytes(bad)
        assert _lb(results, "submit", str(tmp_path / "vvc.json")) == 2
        err = capsys.readouterr().err
        assert f"{label}: bitstream {target.name} {message}" in err
        assert not results.exists()  # nothing stored, not even a folder
    target.write_bytes(original)
    # A hash field that is not a hash is refused before any file is looked for.
    hostile = copy.deepcopy(sub)
    hostile["rows"][0]["bitstream_sha256"] = "../" * 21 + "x"
    _write(tmp_path, hostile, "hostile.json")
    assert _lb(results, "submit", "--bitstreams", str(folder), str(tmp_path / "hostile.json")) == 2
    assert "$.rows[0].bitstream_sha256" in capsys.readouterr().err and not results.exists()
    assert _lb(results, "submit", "--bitstreams", str(tmp_path / "nowhere"), str(tmp_path / "vvc.json")) == 2
    assert "no bitstreams folder" in capsys.readouterr().err
    assert _lb(results, "submit", str(tmp_path / "vvc.json")) == 0


def test_stored_bitstreams_are_never_overwritten(run_dir: Path, tmp_path: Path) -> None:
    sub = _export(run_dir, "vvc", tmp_path / "vvc.json")
    results = tmp_path / "results"
    row = sub["anchor"]["rows"][0]
    planted = results / "bitstreams" / row["bitstream_sha256"][:2] / f"{row['bitstream_sha256']}.hevc"
    planted.parent.mkdir(parents=True)
    planted.write_bytes(b"not the bitstream")
    with pytest.raises(CodecbenchError, match="is already stored and is not that bitstream; refusing"):
        submit(tmp_path / "vvc.json", results)
    assert planted.read_bytes() == b"not the bitstream"
    assert not (results / "submissions" / "sample").exists() or not any(
        (results / "submissions" / "sample").iterdir()
    )
    # A symlinked bitstreams/ folder is refused before anything is written through it.
    shutil.rmtree(results / "bitstreams")
    outside = tmp_path / "outside"
    outside.mkdir()
    (results / "bitstreams").symlink_to(outside, target_is_directory=True)
    with pytest.raises(CodecbenchError, match="symbolic link"):
        submit(tmp_path / "vvc.json", results)
    assert list(outside.iterdir()) == []


def test_submission_without_bitstreams_is_unverifiable(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sub = _export(run_dir, "vvc", tmp_path / "vvc.json")
    shutil.rmtree(tmp_path / "vvc.bitstreams")
    results = tmp_path / "results"
    assert _lb(results, "submit", str(tmp_path / "vvc.json")) == 0
    assert "cannot be re-checked (marked unverifiable)" in capsys.readouterr().err
    assert _lb(results, "build") == 0
    board = json.loads((results / "leaderboard" / "leaderboard.json").read_text())
    assert board["submissions"][0]["bitstreams"] == "24 of 24 missing"
    assert board["datasets"]["sample"]["default"]["psnr_y"]["rate"][0]["bitstreams"] == "24 of 24 missing"
    assert "| 24 of 24 missing |" in (results / "leaderboard" / "leaderboard.md").read_text()
    assert _lb(results, "verify", "--quiet") == 1
    out = capsys.readouterr()
    row = sub["rows"][0]
    assert (
        f"codec vvc: {row['sequence']} @ {row['rate_point']}: bitstream {row['bitstream_sha256']}.bin is missing"
        in out.err
    )
    assert "verified 0 of 24 row(s) in 1 submission(s): 24 problem(s)" in out.out


def test_format_1_submissions_stay_readable_but_unverifiable(
    good: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = copy.deepcopy(good)
    old["format"] = FORMAT_V1
    for part in (old["codec"], old["anchor"]):
        del part["options"], part["suffix"]
    for row in old["rows"] + old["anchor"]["rows"]:
        del row["bitstream_sha256"], row["decoded_sha256"]
    validate(old)
    with pytest.raises(SubmissionError, match=r"\$.rows\[0\]: missing key 'bitstream_sha256'"):
        validate(old | {"format": FORMAT})
    results = tmp_path / "results"
    assert _lb(results, "submit", str(_write(tmp_path, old, "old.json"))) == 0
    assert _lb(results, "build") == 0
    assert "| none (format 1) |" in (results / "leaderboard" / "leaderboard.md").read_text()
    assert _lb(results, "verify", "--quiet") == 1
    assert "format 'codecbench-submission/1' carries no bitstream hashes" in capsys.readouterr().err
    # A format-1 file with a bitstreams folder beside it is a mistake: refused.
    (tmp_path / "old.bitstreams").mkdir()
    assert _lb(results, "submit", "--replace", str(tmp_path / "old.json")) == 2
    assert "carries no bitstream hashes; export it again" in capsys.readouterr().err


def test_format_2_requires_its_fields(good: dict[str, Any]) -> None:
    for where, key in [
        ("codec", "options"),
        ("codec", "suffix"),
        ("anchor", "options"),
        ("anchor", "suffix"),
    ]:
        broken = copy.deepcopy(good)
        del broken[where][key]
        with pytest.raises(SubmissionError, match=rf"\$.{where}: missing key '{key}'"):
            validate(broken)
    broken = copy.deepcopy(good)
    del broken["anchor"]["rows"][2]["decoded_sha256"]
    with pytest.raises(SubmissionError, match=r"\$.anchor.rows\[2\]: missing key 'decoded_sha256'"):
        validate(broken)


def test_verify_refuses_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _lb(tmp_path / "nowhere", "verify") == 2
    assert "no results folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert _lb(tmp_path / "empty", "verify") == 2
    assert "no submissions under" in capsys.readouterr().err
    assert _lb(tmp_path / "empty", "verify", str(_write(tmp_path, "{}", "x.json"))) == 2
    err = capsys.readouterr().err
    assert "missing key 'format'" in err and "Traceback" not in err


# --- a real run: its bitstreams re-decode, tampering is caught --------------------------------


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """HEVC and VVC (with a non-default preset, so the options matter) on 3 frames of Clouds."""
    run = tmp_path_factory.mktemp("real") / "run"
    proc = cli(
        "run", "--codecs", "hevc,vvc", "--dataset", "sample", "--frames", "3", "--sequences", "Clouds",
        "--metrics", "psnr_y", "--codec-opt", "vvc.preset=faster", "--threads", "1", "--out", run, "--quiet",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return run


def _flip(path: Path, at: int) -> bytes:
    original = path.read_bytes()
    data = bytearray(original)
    data[at] ^= 0x01
    path.write_bytes(bytes(data))
    return original


@pytest.mark.slow
def test_real_run_published_reverifies_and_tampering_is_caught(
    real_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    sub = _export(real_run, "vvc", tmp_path / "vvc.json")
    assert sub["codec"]["options"] == {"preset": "faster"} and sub["codec"]["suffix"] == ".vvc"
    assert sub["anchor"]["options"] == {} and sub["anchor"]["suffix"] == ".hevc"
    assert sub["date"] == max(pd.read_csv(real_run / "results.csv")["finished_at"])  # the run's date
    assert _lb(results, "submit", str(tmp_path / "vvc.json")) == 0
    assert len(_stored(results)) == 18
    assert _lb(results, "verify") == 0
    out = capsys.readouterr()
    assert "verified 18 of 18 row(s) in 1 submission(s): 0 problem(s)" in out.out
    assert "verify: 18/18 bitstream" in out.err  # the progress line
    assert _lb(results, "build") == 0
    verify_published(results)  # the helper that checks the repository's results/
    with pytest.raises(NothingPublished):
        verify_published(tmp_path / "empty")

    def stored(part: str, i: int) -> tuple[Path, str]:
        info = sub["codec"] if part == "codec" else sub["anchor"]
        row = (sub["rows"] if part == "codec" else sub["anchor"]["rows"])[i]
        sha = row["bitstream_sha256"]
        label = f"{part} {info['name']}: {row['sequence']} @ {row['rate_point']}"
        return results / "bitstreams" / sha[:2] / f"{sha}{info['suffix']}", label

    # One flipped byte in a VVC bitstream: that row, and only it, fails.
    path, label = stored("codec", 4)
    original = _flip(path, path.stat().st_size // 2)
    assert _lb(results, "verify", "--quiet") == 1
    out = capsys.readouterr()
    lines = [line for line in out.err.splitlines() if line.startswith("MISMATCH")]
    assert len(lines) == 1 and f": {label}: bitstream " in lines[0] and "different SHA-256" in lines[0]
    assert "verified 17 of 18 row(s)" in out.out
    path.write_bytes(original)
    # A truncated anchor bitstream.
    path, label = stored("anchor", 2)
    original = path.read_bytes()
    path.write_bytes(original[:-7])
    assert _lb(results, "verify", "--quiet") == 1
    err = capsys.readouterr().err
    assert (
        f"{label}: bitstream {path.name} has {len(original) - 7} bytes, the row says {len(original)}" in err
    )
    path.write_bytes(original)
    # A published decoded_sha256 that the bitstream does not decode to (the decode really runs).
    stored_file = next((results / "submissions").rglob("*.json"))
    assert stored_file.name.startswith("vvc--ld--VVenC")  # low delay, the default configuration
    published = json.loads(stored_file.read_text())
    published["rows"][1]["decoded_sha256"] = "0" * 64
    stored_file.write_text(json.dumps(published))
    _, label = stored("codec", 1)
    assert _lb(results, "verify", "--quiet") == 1
    err = capsys.readouterr().err
    assert f"{label}: decoded frames have SHA-256 {sub['rows'][1]['decoded_sha256'][:16]}" in err
    # The same submission named on the command line, from outside results/, verifies.
    assert _lb(results, "verify", "--quiet", str(tmp_path / "vvc.json")) == 0


@pytest.mark.slow
def test_real_run_hostile_submissions_are_refused(
    real_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sub = _export(real_run, "vvc", tmp_path / "vvc.json")
    results = tmp_path / "results"
    folder = tmp_path / "vvc.bitstreams"
    # A hash that is no hash.
    hostile = copy.deepcopy(sub)
    hostile["anchor"]["rows"][0]["bitstream_sha256"] = "<script>" + "a" * 56
    _write(tmp_path, hostile, "hostile.json")
    assert _lb(results, "submit", "--bitstreams", str(folder), str(tmp_path / "hostile.json")) == 2
    assert "$.anchor.rows[0].bitstream_sha256: '<script>" in capsys.readouterr().err
    # A bitstream swapped for another of the same run: sizes may differ, the hash never matches.
    row = sub["rows"][0]
    swapped = copy.deepcopy(sub)
    other = sub["rows"][1]
    swapped["rows"][0] |= {"bitstream_sha256": other["bitstream_sha256"]}
    _write(tmp_path, swapped, "swapped.json")
    assert _lb(results, "submit", "--bitstreams", str(folder), str(tmp_path / "swapped.json")) == 2
    err = capsys.readouterr().err
    assert (
        f"codec vvc: {row['sequence']} @ {row['rate_point']}: bitstream {other['bitstream_sha256']}.vvc has"
        in err
    )
    # The right name, other bytes of the same size.
    forged = folder / f"{row['bitstream_sha256']}.vvc"
    _flip(forged, 0)
    assert _lb(results, "submit", str(tmp_path / "vvc.json")) == 2
    assert "different SHA-256 than its row's bitstream_sha256" in capsys.readouterr().err
    assert not results.exists()


# --- the pages: deterministic, with the right interval -----------------------------------------


def test_build_twice_is_byte_identical(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    for codec in ("vvc", "divinr[tiny]"):
        _export(run_dir, codec, tmp_path / f"{published_name(codec)}.json")
        assert _lb(results, "submit", str(tmp_path / f"{published_name(codec)}.json")) == 0
    names = ("index.html", "leaderboard.md", "leaderboard.json")
    out = build(results)
    first = {n: (out / n).read_bytes() for n in names}
    time.sleep(1.1)  # a clock in the pages would show now
    elsewhere = tmp_path / "elsewhere" / "results"
    shutil.copytree(results, elsewhere, ignore=shutil.ignore_patterns("leaderboard"))
    for root in (results, elsewhere):
        assert {n: (build(root) / n).read_bytes() for n in names} == first
    assert _lb(results, "build", "--check") == 0
    dates = [json.loads(p.read_text())["date"] for p in (results / "submissions").rglob("*.json")]
    board = json.loads(first["leaderboard.json"])
    assert board["as_of"] == max(dates) and "generated" not in board
    assert f"Submissions up to {max(dates)}" in first["leaderboard.md"].decode()
    (out / "index.html").write_bytes(first["index.html"] + b" ")
    capsys.readouterr()
    assert _lb(results, "build", "--check") == 1
    assert "out of date: " in capsys.readouterr().err


def test_low_delay_and_random_access_are_ranked_apart(good: dict[str, Any], tmp_path: Path) -> None:
    """The same codec version in low delay and in random access (each against its own run's HEVC
    in that configuration) are two submissions, ranked in separate tables."""
    results = tmp_path / "results"
    for mode in ("ld", "ra"):
        sub = copy.deepcopy(good)
        sub["codec"]["config"] = {"config": mode, "preset": "medium"}
        sub["anchor"]["config"] = {"config": mode, "preset": "veryslow"}
        submit(_write(tmp_path, sub, f"{mode}.json"), results)
    names = sorted(p.name for p in (results / "submissions" / "sample").iterdir())
    assert [n.split("--")[:2] for n in names] == [["vvc", "ld"], ["vvc", "ra"]]
    out = build(results)
    board = json.loads((out / "leaderboard.json").read_text())["datasets"]["sample"]
    assert sorted(board) == ["ld", "ra"]
    assert [[e["codec"], e["rank"]] for e in board["ra"]["psnr_y"]["rate"]] == [["vvc", 1]]
    md = (out / "leaderboard.md").read_text()
    ld, ra = (
        md.index("### against HEVC, low delay (config=ld)"),
        md.index("### against HEVC, random access (config=ra)"),
    )
    row = "| 1 | vvc | 1.0 | -25.00 %"
    assert ld < ra and md[ld:ra].count(row) == md[ra:].count(row) == len(board["ld"]) == len(board["ra"]) > 1
    # A codec in one configuration against an anchor in another is refused.
    mixed = copy.deepcopy(good)
    mixed["codec"]["config"], mixed["anchor"]["config"] = {"config": "ra"}, {"config": "ld"}
    with pytest.raises(SubmissionError, match="the anchor ran config='ld' but the codec config='ra'"):
        validate(mixed)


def test_fewer_than_5_sequences_show_the_per_sequence_range(tmp_path: Path) -> None:
    # vvc needs 0.75x the rate on seq_a and seq_c (-25 %), 1.5x on seq_b (+50 %): mean 0 %.
    run = synthetic_run(tmp_path / "run", {"seq_a": 0.0, "seq_b": 1.0, "seq_c": -1.0}, {"seq_b": 2.0})
    results = tmp_path / "results"
    _export(run, "vvc", tmp_path / "vvc.json")
    assert _lb(results, "submit", str(tmp_path / "vvc.json")) == 0
    out = build(results)
    entry = json.loads((out / "leaderboard.json").read_text())["datasets"]["sample"]["default"]["psnr_y"][
        "rate"
    ][0]
    assert entry["interval"] == "range" and entry["n_sequences"] == 3
    assert entry["value"] == pytest.approx(0.0, abs=1e-9)
    assert (entry["seq_min"], entry["seq_max"]) == (pytest.approx(-25.0), pytest.approx(50.0))
    assert entry["ci_low"] is None and entry["ci_high"] is None  # no confidence interval below 5
    md = (out / "leaderboard.md").read_text()
    assert "| +0.00 % (per-sequence range -25.00 % to +50.00 %) |" in md and "CI -" not in md
    page = (out / "index.html").read_text()
    assert "+0.00 % (per-sequence range -25.00 % to +50.00 %)" in page
    assert (
        "the per-sequence range (the smallest and largest per-sequence value), which is not a confidence"
        in page
    )


def test_5_sequences_show_a_bootstrap_interval(tmp_path: Path) -> None:
    sequences = {f"seq_{c}": 0.0 for c in "abcde"}
    scale = {"seq_b": 2.0, "seq_d": 4 / 3}  # -25, +50, -25, 0, -25 %
    run = synthetic_run(tmp_path / "run", sequences, scale)
    results = tmp_path / "results"
    _export(run, "vvc", tmp_path / "vvc.json")
    assert _lb(results, "submit", str(tmp_path / "vvc.json")) == 0
    out = build(results)
    entry = json.loads((out / "leaderboard.json").read_text())["datasets"]["sample"]["default"]["psnr_y"][
        "rate"
    ][0]
    low, high = bd.bootstrap_ci(np.array([-25.0, 50.0, -25.0, 0.0, -25.0]), 0.95, 2000, 0)
    assert entry["interval"] == "ci" and entry["value"] == pytest.approx(-5.0)
    assert (entry["ci_low"], entry["ci_high"]) == (pytest.approx(low), pytest.approx(high)) and low < high
    md = (out / "leaderboard.md").read_text()
    assert f"| -5.00 % (95% CI {low:+.2f} % to {high:+.2f} %) |" in md and "per-sequence range -" not in md


# --- what the repository publishes ---------------------------------------------------------------


class NothingPublished(AssertionError):
    """``results/submissions`` is missing or empty."""


def verify_published(results_dir: Path) -> None:
    """Assert that ``results_dir`` publishes something, that every published row re-decodes from its
    stored bitstream (``leaderboard verify``), and that its leaderboard pages are exactly what
    ``leaderboard build`` makes from its submissions."""
    submissions = results_dir / "submissions"
    if not (submissions.is_dir() and any(submissions.rglob("*.json"))):
        raise NothingPublished(f"nothing published in {submissions}")
    assert _lb(results_dir, "verify", "--quiet") == 0, "a published row does not re-check from its bitstream"
    assert _lb(results_dir, "build", "--check") == 0, "results/leaderboard differs from a rebuild"


@pytest.mark.slow
def test_published_results_reverify() -> None:
    """Every number in results/ re-checks from its committed bitstream, within the 10 MB budget."""
    verify_published(REPO_RESULTS)
    subs = [json.loads(p.read_text()) for p in (REPO_RESULTS / "submissions").rglob("*.json")]
    published = {(s["codec"]["name"], s["anchor"]["name"], s["dataset"]["name"]) for s in subs}
    assert published >= {
        ("vvc", "hevc", "natural"),
        ("av1", "hevc", "natural"),
        ("divinr[mini]", "hevc", "natural"),
        ("vvc[ra]", "hevc[ra]", "natural"),
    }
    for s in subs:  # every frame of every sequence of the embedded natural dataset
        assert [(q["name"], q["frames"]) for q in s["dataset"]["sequences"]] == [
            ("Office", 16), ("Railing", 16), ("Sidewalk", 16)
        ]  # fmt: skip
    size = sum(p.stat().st_size for p in (REPO_RESULTS / "bitstreams").rglob("*") if p.is_file())
    assert 0 < size <= 10 * 2**20, f"published bitstreams take {size} bytes"
