"""HTML report: content from synthetic runs, graceful degradation, and a real headless Chromium load."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from codecbench.cli import main
from codecbench.report import load_run, render, write_report
from tests.test_bd import BPPS, RATE_FACTORS, synthetic_results


def make_run(root: Path, with_extras: bool = True) -> Path:
    """A run folder: results.csv (with a failed job and an unavailable metric) and, optionally,
    frames.csv, dataset_metrics.csv and PNG snapshots (decoded and reference)."""
    from PIL import Image

    res = synthetic_results()
    res["dists"] = np.nan  # a metric whose weights were missing: no values at all
    failed = res.iloc[[0]].copy()
    failed[["status", "error", "bpp", "psnr_y", "vmaf", "lpips_alex"]] = [
        "failed",
        "encoder <crashed>",
        np.nan,
        np.nan,
        np.nan,
        np.nan,
    ]
    failed["rate_point"] = "99"
    res = pd.concat([res, failed], ignore_index=True)
    root.mkdir(parents=True, exist_ok=True)
    res.to_csv(root / "results.csv", index=False)
    if not with_extras:
        return root
    rng = np.random.default_rng(0)
    base = (rng.random((48, 64, 3)) * 255).astype(np.uint8)
    frames = []
    for r in res[res["status"] == "ok"].itertuples(index=False):
        noise = rng.integers(-20, 20, base.shape) * (1 / (1 + 10 * r.bpp))
        path = root / r.snapshot_path
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(path)
        for f in range(3):
            for metric in ("psnr_y", "vmaf"):
                value = getattr(r, metric) + 0.3 * (f - 1)
                frames.append((r.codec, r.dataset, r.sequence, r.rate_point, f, metric, value))
    for seq in res["sequence"].unique():
        ref = root / "snapshots" / "reference" / "sample" / f"{seq}.png"
        ref.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(base).save(ref)
    pd.DataFrame(
        frames, columns=["codec", "dataset", "sequence", "rate_point", "frame", "metric", "value"]
    ).to_csv(root / "frames.csv", index=False)
    dm = [
        (c, "sample", str(i), "fid", 60 - 20 * np.log10(b), b * f, 3)
        for c, f in RATE_FACTORS.items()
        for i, b in enumerate(BPPS)
    ]
    pd.DataFrame(
        dm, columns=["codec", "dataset", "rate_point", "metric", "value", "bpp", "sequences"]
    ).to_csv(root / "dataset_metrics.csv", index=False)
    return root


# --- a real headless Chromium, driven through the DevTools protocol over a pipe -----------------


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        exe = shutil.which(name)
        if exe:
            return exe
    return None


class Browser:
    """Headless Chromium speaking the DevTools protocol on fds 3 and 4 (``--remote-debugging-pipe``):
    no port, no extra package, no race with other processes."""

    def __init__(self, exe: str, profile: Path) -> None:
        cmd_r, self._cmd_w = os.pipe()
        self._res_r, res_w = os.pipe()

        def wire_fds() -> None:  # runs in the child: put the pipe ends on fds 3 and 4
            a, b = os.dup(cmd_r), os.dup(res_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        args = [
            exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--disable-quic", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-extensions", "--remote-debugging-pipe",
            f"--user-data-dir={profile}", "about:blank",
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            args, preexec_fn=wire_fds, close_fds=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        os.close(cmd_r)
        os.close(res_w)
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []

    def _read_message(self, deadline: float) -> dict:
        import select

        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from chromium")
            ready, _, _ = select.select([self._res_r], [], [], left)
            if ready:
                chunk = os.read(self._res_r, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the DevTools pipe")
                self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def send(
        self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30
    ) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_event(self, method: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        for i, e in enumerate(self.events):
            if e.get("method") == method:
                return self.events.pop(i)
        while True:
            e = self._read_message(deadline)
            if e.get("method") == method:
                return e
            self.events.append(e)

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._cmd_w)
        os.close(self._res_r)


COUNT_DRAWN = """(() => {
  const divs = Array.from(document.querySelectorAll('.plotly-graph-div'));
  const drawn = divs.filter(d => d._fullLayout && d.querySelector('svg.main-svg') &&
                                 d.querySelectorAll('.scatterlayer .trace').length > 0);
  return JSON.stringify({divs: divs.length, drawn: drawn.length,
                         svgs: document.querySelectorAll('.plotly .main-svg').length,
                         images: Array.from(document.images)
                                      .filter(i => i.complete && i.naturalWidth > 0).length});
})()"""


def load_in_chromium(page: Path, tmp_path: Path) -> tuple[dict, list[str], list[str]]:
    """Open ``page``; return the drawing counts, the console/JS errors and every requested URL."""
    exe = _chromium()
    if exe is None:
        pytest.skip("chromium is not installed (CI installs Debian's chromium package)")
    browser = Browser(exe, tmp_path / "profile")
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.send(f"{domain}.enable", session=session)
        browser.send("Page.navigate", {"url": page.resolve().as_uri()}, session=session)
        browser.wait_event("Page.loadEventFired", timeout=90)
        counts: dict = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # plots draw synchronously, but allow for slow machines
            res = browser.send(
                "Runtime.evaluate", {"expression": COUNT_DRAWN, "returnByValue": True}, session
            )
            counts = json.loads(res["result"]["value"])
            if counts["divs"] and counts["drawn"] == counts["divs"]:
                break
            time.sleep(0.2)
        browser.send("Runtime.evaluate", {"expression": "1"}, session)  # flush pending events
    finally:
        browser.close()
    errors, urls = [], []
    for e in browser.events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Runtime.exceptionThrown":
            errors.append(json.dumps(params.get("exceptionDetails", {}))[:500])
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(json.dumps(params.get("args", []))[:500])
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            errors.append(params["entry"].get("text", "")[:500])
        elif method == "Network.requestWillBeSent":
            urls.append(params["request"]["url"])
    return counts, errors, urls


def test_report_sections_marks_and_escaping(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    res = pd.read_csv(run / "results.csv")
    hostile = res[res["codec"] == "vvc"].copy()
    hostile["codec"] = "<script>alert(1)</script>"
    pd.concat([res, hostile]).to_csv(run / "results.csv", index=False)
    page, n_figures = render(load_run(run))
    # RD curves for psnr_y, vmaf, lpips_alex (dists has no values) and fid; timelines for 2 metrics.
    assert n_figures == 6
    for section in (
        "Ranking",
        "BD tables",
        "Rate-distortion curves",
        "Per-frame metrics",
        "Visual comparison",
    ):
        assert f">{section}</h2>" in page
    assert "Stand-in codecs" in page and "divinr[tiny] (stand-in)" in page
    assert "Failed jobs (1)" in page and "encoder &lt;crashed&gt;" in page
    assert "no values at all (metric unavailable in this run)" in page  # dists
    assert "-25.00 %" in page and "+25.00 %" in page  # BD-rate of vvc and divinr[tiny] vs hevc
    assert "alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("src='data:image/png;base64,") == 3 * 5  # reference + 4 codecs, 3 sequences
    assert page.count(get_plotlyjs()) == 1  # plotly.js embedded once...
    ours = page.replace(get_plotlyjs(), "")
    assert "<script src" not in ours and "http" not in ours  # ...and nothing else is fetched


def test_report_names_metrics_the_run_skipped(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    why = "unavailable: weights inception_fid: MISSING (needs file /x/<pt_inception>.pth)"
    (run / "run.json").write_text(json.dumps({"runs": [{"skipped_metrics": {"kid": why}}]}))
    page, _ = render(load_run(run))
    assert "kid" in page and "not computed: unavailable: weights inception_fid" in page
    assert "&lt;pt_inception&gt;" in page


def test_report_from_results_csv_alone_and_missing_anchor(tmp_path: Path) -> None:
    run = make_run(tmp_path / "bare", with_extras=False)
    out = write_report(run / "results.csv")
    page = out.read_text()
    assert out == run / "report.html"
    assert (
        "No frames.csv" in page and "Per-frame metrics" not in page and "Visual comparison</h2>" not in page
    )
    assert "Ranking</h2>" in page
    page, n = render(load_run(run), anchor="av1")
    assert "No BD tables or ranking: anchor &#x27;av1&#x27; is not among the codecs" in page
    assert n == 3 and "Ranking</h2>" not in page
    # A results.csv with only the essential columns still gives curves and BD values.
    slim = pd.read_csv(run / "results.csv")[["codec", "dataset", "sequence", "bpp", "psnr_y"]].dropna()
    slim.to_csv(tmp_path / "slim.csv", index=False)
    page, n = render(load_run(tmp_path / "slim.csv"))
    assert n == 1 and "-25.00 %" in page


def test_report_cli_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = make_run(tmp_path / "run", with_extras=False)
    assert main(["report", str(run), "--out", str(tmp_path / "r.html")]) == 0
    assert (tmp_path / "r.html").stat().st_size > 1_000_000  # plotly.js inside
    assert main(["report", str(tmp_path / "nope.csv")]) == 2
    assert "no results file" in capsys.readouterr().err
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    assert main(["report", str(tmp_path / "bad.csv")]) == 2
    assert "lacks the column(s) codec, dataset, sequence, bpp" in capsys.readouterr().err


def test_bd_cli_formats_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = make_run(tmp_path / "run")
    assert (
        main(["bd", str(run / "results.csv"), "--anchor", "hevc", "--metric", "psnr_y", "--format", "json"])
        == 0
    )
    records = json.loads(capsys.readouterr().out)
    keys = {
        "codec",
        "anchor",
        "dataset",
        "sequence",
        "metric",
        "method",
        "mode",
        "value",
        "ci_low",
        "ci_high",
    }
    assert all(keys <= set(r) for r in records)
    avg = {r["codec"]: r for r in records if r["sequence"] == "*"}
    assert avg["vvc"]["value"] == pytest.approx(-25.0, abs=1e-6) and avg["vvc"]["method"] == "pchip"
    per_seq = [r for r in records if r["sequence"] != "*"]
    assert len(per_seq) == 6 and all(r["ci_low"] is None for r in per_seq)
    args = [
        "bd",
        str(run),
        "--metric",
        "lpips_alex",
        "--mode",
        "quality",
        "--method",
        "akima",
        "--format",
        "csv",
    ]
    assert main(args) == 0
    table = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    assert (
        table[(table["codec"] == "vvc") & (table["sequence"] == "*")]["value"].iloc[0] > 0
    )  # LPIPS reduction
    assert main(["bd", str(run), "--metric", "fid"]) == 0
    assert "BD-rate of fid vs hevc" in capsys.readouterr().out
    assert main(["bd", str(run), "--metric", "ssimulacra"]) == 2
    assert "neither a column" in capsys.readouterr().err
    assert main(["bd", str(run), "--anchor", "av1"]) == 2
    assert "anchor 'av1' is not among" in capsys.readouterr().err
    few = pd.read_csv(run / "results.csv")
    few = few[few["rate_point"].astype(str) != "25"]  # 3 points per curve
    few.to_csv(tmp_path / "few.csv", index=False)
    assert main(["bd", str(tmp_path / "few.csv")]) == 2
    assert "at least 4" in capsys.readouterr().err


def test_report_loads_and_draws_in_headless_chromium(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    out = write_report(run, tmp_path / "report.html")
    _, n_figures = render(load_run(run))
    counts, errors, urls = load_in_chromium(out, tmp_path)
    assert errors == []
    assert counts["divs"] == n_figures == 6
    assert counts["drawn"] == n_figures  # every figure has its SVG and at least one drawn trace
    assert counts["svgs"] >= n_figures
    assert counts["images"] == 3 * 4  # every comparison crop decoded (reference + 3 codecs)
    assert urls and all(u.startswith(("file:", "data:")) for u in urls), urls  # nothing from the network
