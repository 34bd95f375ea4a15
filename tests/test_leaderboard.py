"""Leaderboard: export -> submit -> build, and rejection of malformed and hostile submissions."""

from __future__ import annotations

import copy
import html
import json
import os
from pathlib import Path
from typing import Any

import pytest

from codecbench.cli import main
from codecbench.errors import CodecbenchError
from codecbench.leaderboard import SubmissionError, build, make_submission, parse, submit, validate
from codecbench.leaderboard.schema import MAX_BYTES
from codecbench.leaderboard.store import slug, submission_path
from codecbench.report import load_run
from tests.test_report import make_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run(tmp_path_factory.mktemp("lb") / "run")


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
        out = tmp_path / f"{slug(codec)}.json"
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
    psnr = board["datasets"]["sample"]["psnr_y"]
    assert [e["codec"] for e in psnr["rate"]] == ["vvc", "divinr[tiny]"]
    assert psnr["rate"][0]["value"] == pytest.approx(-25.0, abs=1e-6) and psnr["rate"][0]["rank"] == 1
    assert psnr["rate"][1]["value"] == pytest.approx(25.0, abs=1e-6)
    lpips = board["datasets"]["sample"]["lpips_alex"]["quality"]
    assert lpips[0]["codec"] == "vvc" and lpips[0]["value"] > 0  # LPIPS reduction: positive = better
    assert "fid" in board["datasets"]["sample"]  # dataset-level metric ranked too
    md = (results / "leaderboard" / "leaderboard.md").read_text()
    assert "| 1 | vvc | 1.0 | -25.00 %" in md and "divinr\\[tiny\\] (stand-in)" in md
    page = (results / "leaderboard" / "index.html").read_text()
    assert "<h3>psnr_y</h3>" in page and "stand-in model" in page


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
    ("format", "codecbench-submission/0", "$.format: must be 'codecbench-submission/1'"),
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
    assert slug("../../etc/passwd") == "etc-passwd" and slug("..") == "x"

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
    """``run`` (HEVC, VVC and AV1 in random access) -> ``verify`` -> ``leaderboard export`` ->
    ``submit`` -> ``build``, as a user types them; the leaderboard shows each codec with the BD
    numbers its own results.csv gives against the run's HEVC."""
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
        "--codec-opt", "av1.config=ra", "--out", run, "--quiet",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert cli("verify", run).returncode == 0
    table = pd.read_csv(run / "results.csv")
    versions = dict(zip(table["codec"], table["codec_version"]))
    assert ";" in versions["vvc"] and ";" in versions["hevc"]  # real versions: "VVenC 1.x; ffmpeg ..."
    for codec in ("vvc", "av1"):
        out = tmp_path / f"{codec}.json"
        assert main(["leaderboard", "export", str(run), "--codec", codec, "--out", str(out)]) == 0
        sub = json.loads(out.read_text())
        assert sub["codec"]["version"] == versions[codec] and sub["anchor"]["version"] == versions["hevc"]
        assert sub["codec"]["config"]["config"] == "ra" and sub["anchor"]["config"]["config"] == "ra"
        ours = table[table["codec"] == codec].sort_values("bpp")
        assert [r["bytes"] for r in sub["rows"]] == list(ours["bytes"])
        assert main(["leaderboard", "--results-dir", str(results), "submit", str(out)]) == 0
    assert main(["leaderboard", "--results-dir", str(results), "build"]) == 0

    board = json.loads((results / "leaderboard" / "leaderboard.json").read_text())
    ranked = board["datasets"]["sample"]["psnr_y"]["rate"]
    assert sorted(e["codec"] for e in ranked) == ["av1", "vvc"] and [e["rank"] for e in ranked] == [1, 2]
    curves = bd.curves_from_results(table, "psnr_y")
    expected = bd.bd_table(curves, "hevc", "psnr_y", mode="rate")
    md = (results / "leaderboard" / "leaderboard.md").read_text()
    page = (results / "leaderboard" / "index.html").read_text()
    for e in ranked:
        mine = expected[(expected["codec"] == e["codec"]) & (expected["sequence"] == bd.ALL_SEQUENCES)]
        assert e["value"] == pytest.approx(float(mine["value"].iloc[0]), abs=1e-9)
        shown = _fmt(e, "rate")
        assert f"| {e['rank']} | {e['codec']} | {_md(versions[e['codec']])} | {shown} |" in md
        assert (
            f"<td>{e['codec']}</td><td>{html.escape(versions[e['codec']])}</td><td class='n'>{shown}</td>"
            in page
        )
