"""HTML report: content from synthetic runs, graceful degradation, and a real headless Chromium load."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from codecbench import bd, registry
from codecbench.cli import main
from codecbench.errors import CodecUnavailableError, UnknownNameError
from codecbench.metrics.base import Metric
from codecbench.metrics.info import metric_info
from codecbench.report import load_run, render, write_report
from codecbench.report.figures import rd_figure, timeline_figure
from codecbench.report.labels import KNOWN_COLORS, PALETTE, codec_color, codec_colors
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

    def __init__(self, exe: str, profile: Path, width: int = 1280) -> None:
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
            f"--window-size={width},900", f"--user-data-dir={profile}", "about:blank",
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


#: Layout of the page as a person sees it: what overflows, what wraps, how cells are aligned,
#: whether legends fit and how many traces each figure shows.
LAYOUT = """(() => {
  const de = document.documentElement, body = document.body.getBoundingClientRect();
  const name = el => el.tagName + '.' + (el.getAttribute('class') || '') + ' ' + (el.id || '');
  const lines = el => { const r = document.createRange(); r.selectNodeContents(el);
                        return new Set(Array.from(r.getClientRects()).map(x => Math.round(x.top))).size; };
  const out = {innerWidth: window.innerWidth, scrollWidth: de.scrollWidth, clientWidth: de.clientWidth,
               overflowing: [], tables: [], wrapped: [], columns: [], figures: []};
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > 0 && (r.right > body.right + 1 || r.left < body.left - 1))  // not off-screen helpers
      out.overflowing.push(name(el) + ' right=' + Math.round(r.right) + ' body=' + Math.round(body.right));
  }
  for (const t of document.querySelectorAll('table')) {
    const box = t.parentElement;
    out.tables.push({table: t.offsetWidth, box: box.clientWidth, scroll: box.scrollWidth,
                     text: t.innerText.slice(0, 60)});
    const heads = Array.from(t.querySelectorAll('thead th')).map(th => th.innerText.split('\\n')[0]);
    for (const tr of t.querySelectorAll('tbody tr')) {
      let col = 0;
      for (const td of tr.children) {
        const span = td.colSpan || 1;
        out.columns.push({head: span > 1 ? '(span)' : heads[col], cls: td.className,
                          align: getComputedStyle(td).textAlign, text: td.innerText.slice(0, 40)});
        col += span;
      }
    }
  }
  for (const td of document.querySelectorAll('td.num')) {
    const first = td.firstChild;  // the value (or n/a, anchor): one line
    if (first && first.nodeType === 3) {
      const r = document.createRange(); r.selectNode(first);
      if (new Set(Array.from(r.getClientRects()).map(x => Math.round(x.top))).size > 1)
        out.wrapped.push(td.innerText);
    }
    for (const part of td.querySelectorAll('.ci > span'))
      if (lines(part) > 1) out.wrapped.push(td.innerText);
  }
  for (const d of document.querySelectorAll('.plotly-graph-div')) {
    const svg = d.querySelector('svg.main-svg').getBoundingClientRect();
    const legend = d.querySelector('.legend');
    const lr = legend ? legend.getBoundingClientRect() : null;
    const bar = legend ? legend.querySelector('.scrollbar') : null;
    out.figures.push({
      id: d.id, visible: d.data.filter(t => t.visible === true || t.visible === undefined).length,
      names: d.data.filter(t => t.visible === true).map(t => t.name),
      legendInside: !lr || (lr.left >= svg.left - 1 && lr.right <= svg.right + 1 &&
                            lr.top >= svg.top - 1 && lr.bottom <= svg.bottom + 1),
      legendScrolls: !!bar && bar.getBoundingClientRect().height > 0,
      yTitle: d.layout.yaxis.title.text, xTitle: d.layout.xaxis.title.text,
      menus: (d.layout.updatemenus || []).map(m => m.buttons.length)});
  }
  return JSON.stringify(out);
})()"""


def load_in_chromium(
    page: Path, tmp_path: Path, width: int = 1280
) -> tuple[dict, list[str], list[str], dict]:
    """Open ``page`` in a ``width``-pixel-wide window; return the drawing counts, the console/JS
    errors, every requested URL and the :data:`LAYOUT` report."""
    exe = _chromium()
    if exe is None:
        pytest.skip("chromium is not installed (CI installs Debian's chromium package)")
    browser = Browser(exe, tmp_path / "profile", width)
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.send(f"{domain}.enable", session=session)
        metrics = {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False}
        browser.send("Emulation.setDeviceMetricsOverride", metrics, session=session)
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
        res = browser.send("Runtime.evaluate", {"expression": LAYOUT, "returnByValue": True}, session)
        layout = json.loads(res["result"]["value"])
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
    return counts, errors, urls, layout


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
    # BD-rate (%) of vvc and divinr[tiny] vs hevc, right-aligned, the unit in the column header.
    assert '<td class="num">-25.00' in page and '<td class="num">+25.00' in page
    assert "BD-rate (%)" in page
    assert "alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("src='data:image/png;base64,") == 3 * 5  # reference + 4 codecs, 3 sequences
    assert page.count(get_plotlyjs()) == 1  # plotly.js embedded once...
    ours = page.replace(get_plotlyjs(), "")
    assert "<script src" not in ours and "http" not in ours  # ...and nothing else is fetched


def _sections(page: str) -> dict[str, str]:
    """The page cut at its <h2> headings, by heading id."""
    parts = re.split(r"<h2 id='([a-z]+)'>", page)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _row(html_part: str, codec: str) -> str:
    """The first table row of ``html_part`` whose codec cell is ``codec``."""
    rows = re.findall(r"<tr>(.*?)</tr>", html_part)
    return next(r for r in rows if re.search(rf"<td>{re.escape(codec)}</td>", r))


def test_a_codec_without_values_says_why_in_its_row(tmp_path: Path) -> None:
    res = synthetic_results()
    res.loc[res["codec"] == "divinr[tiny]", ["psnr_y", "vmaf"]] -= 60  # far below the anchor
    res.loc[res["codec"] == "divinr[tiny]", "lpips_alex"] += 3
    # vvc: VMAF far above the anchor's on one sequence, so no BD-rate of VMAF there.
    res.loc[(res["codec"] == "vvc") & (res["sequence"] == "seq_b"), "vmaf"] += 60
    run = tmp_path / "run"
    run.mkdir()
    res.to_csv(run / "results.csv", index=False)
    page, _ = render(load_run(run))
    sec = _sections(page)
    rate_table, quality_table = sec["ranking"].split("BD-quality</h3>")
    reason = "no value on any sequence: curves do not overlap in quality with the anchor"
    row = _row(rate_table, "divinr[tiny] (stand-in)")
    assert '<td class="num">–</td>' in row  # no rank...
    assert f'<td class="txt why" colspan="3">{reason}</td>' in row  # ...and one reason for the row
    assert "n/a" not in row
    # The BD tables give the same reason for the same dataset mean.
    assert _row(sec["bd"], "divinr[tiny]").endswith(f'<td class="txt">{reason}</td>')
    # vvc has a VMAF BD-rate on 2 of 3 sequences: n/a with a note that says which sequence and why.
    why = "no dataset mean: no value for seq_b: curves do not overlap in quality with the anchor"
    row = _row(rate_table, "vvc")
    assert row.count("n/a</span><sup>1</sup>") == 1 and row.count('<td class="num">-25.00') == 2
    assert f"<sup>1</sup> vvc (VMAF): {why}" in rate_table
    vmaf_means = sec["bd"].split("<h3>VMAF</h3>")[1].split("BD-VMAF, dataset means")[0]
    assert _row(vmaf_means, "vvc").endswith(f'<td class="txt">{why}</td>')
    assert "1 of 3" not in page  # the old, contradictory wording


def test_text_columns_left_numbers_right(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run", with_extras=False)
    page, _ = render(load_run(run))
    assert "td.txt{" in page and "th.num,td.num{text-align:right}" in page
    assert "th,td{" in page and "text-align:left" in page.split("th,td{")[1].split("}")[0]
    unavailable = _sections(page)["notices"].split("Unavailable metrics")[1]
    assert '<td class="txt">no values at all (metric unavailable in this run)</td>' in unavailable
    assert '<td class="txt">encoder &lt;crashed&gt;</td>' in page  # failed job's error


class _Plugin(Metric):
    name = "ssimulacra2"
    display_name = "SSIMULACRA 2"
    unit = "points"


@pytest.fixture
def label_cache():
    metric_info.cache_clear()
    yield
    metric_info.cache_clear()


def test_axis_titles_come_from_the_metric_plugins(monkeypatch: pytest.MonkeyPatch, label_cache: None) -> None:
    expected = {
        "psnr_y": "PSNR-Y (dB)",
        "psnr_yuv": "PSNR-YUV (dB)",
        "vmaf": "VMAF",
        "ms_ssim_y": "MS-SSIM-Y",
        "lpips_alex": "LPIPS (AlexNet)",
        "lpips_vgg": "LPIPS (VGG)",
        "fid": "FID",
        "ssimulacra2": "ssimulacra2",  # not installed: its column name, no unit
    }
    assert {m: metric_info(m).title for m in expected} == expected
    pts = pd.DataFrame(
        {"codec": "hevc", "sequence": "a", "rate_point": ["1", "2"], "bpp": [0.1, 0.2], "value": [30.0, 33.0]}
    )
    fig = rd_figure(pts, "sample", "psnr_y", {"hevc": "#000"}, str)
    assert (
        fig.layout.yaxis.title.text == "PSNR-Y (dB)" and fig.layout.xaxis.title.text == "bpp (bits per pixel)"
    )
    assert fig.layout.title.text == "PSNR-Y vs bpp, sample"
    # A third-party plugin brings its own name and unit; a broken one falls back to the column name.
    real = registry.metric_class

    def fake(name: str) -> type[Metric]:
        if name == "ssimulacra2":
            return _Plugin
        if name == "broken":
            raise CodecUnavailableError("plugin 'broken' failed to load: ImportError")
        return real(name)

    metric_info.cache_clear()
    monkeypatch.setattr(registry, "metric_class", fake)
    assert metric_info("ssimulacra2").title == "SSIMULACRA 2 (points)"
    assert metric_info("broken").title == "broken"
    assert metric_info("nope").title == "nope"
    with pytest.raises(UnknownNameError):
        real("nope")


def _frames(codecs: dict[str, list[float]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-frame values (3 frames) and bpp of each codec's rate points, on two sequences."""
    frames, rates = [], []
    for codec, ladder in codecs.items():
        for seq in ("a", "b"):
            for i, bpp in enumerate(ladder):
                rates.append((codec, seq, f"r{i}", bpp))
                frames += [(codec, seq, f"r{i}", f, 30 + 5 * np.log10(bpp) + f) for f in range(3)]
    return (
        pd.DataFrame(frames, columns=["codec", "sequence", "rate_point", "frame", "value"]),
        pd.DataFrame(rates, columns=["codec", "sequence", "rate_point", "bpp"]),
    )


def test_timelines_show_one_rate_point_per_codec_with_a_selector() -> None:
    frames, rates = _frames(
        {"hevc": [0.01, 0.03, 0.1, 0.3, 1.0], "vvc": [0.012, 0.05, 0.15, 0.9], "divinr[tiny]": [0.02, 0.025]}
    )
    fig = timeline_figure(frames, "sample", "psnr_y", {}, lambda c: c, rates, "hevc")
    visible = [t.name for t in fig.data if t.visible]
    # The anchor's median rate (0.1 bpp) and each codec's rate point nearest it.
    assert visible == ["divinr[tiny] @ r1 (0.0250 bpp)", "hevc @ r2 (0.1000 bpp)", "vvc @ r2 (0.1500 bpp)"]
    menu = fig.layout.updatemenus[0]
    labels = [b.label for b in menu.buttons]
    assert labels[:5] == [f"a, near {b:.3g} bpp" for b in (0.01, 0.03, 0.1, 0.3, 1.0)] and len(labels) == 10
    assert labels[menu.active] == "a, near 0.1 bpp"
    for b in menu.buttons:  # every choice shows exactly one line per codec
        shown = [t.name for t, v in zip(fig.data, b.args[0]["visible"], strict=True) if v]
        assert len(shown) == 3 and len({n.split(" @ ")[0] for n in shown}) == 3
    lowest = menu.buttons[0].args[0]["visible"]
    assert [t.name for t, v in zip(fig.data, lowest, strict=True) if v] == [
        "divinr[tiny] @ r0 (0.0200 bpp)",
        "hevc @ r0 (0.0100 bpp)",
        "vvc @ r0 (0.0120 bpp)",
    ]
    assert fig.layout.yaxis.title.text == "PSNR-Y (dB)" and fig.layout.xaxis.title.text == "frame"
    # Without rates, each codec shows the middle of its ladder (by quality).
    fig = timeline_figure(frames, "sample", "psnr_y", {}, lambda c: c, None, "hevc")
    assert [t.name for t in fig.data if t.visible] == ["divinr[tiny] @ r0", "hevc @ r2", "vvc @ r1"]


def test_codec_colours_depend_on_the_name_only(tmp_path: Path) -> None:
    assert codec_colors(["vvc", "hevc", "divinr[tiny]"]) == {
        "hevc": KNOWN_COLORS["hevc"],
        "vvc": KNOWN_COLORS["vvc"],
        "divinr[tiny]": KNOWN_COLORS["divinr"],
    }
    alone = codec_color("my-codec")
    assert (
        codec_colors(["my-codec"])["my-codec"]
        == alone
        == codec_colors(["zz", "hevc", "my-codec"])["my-codec"]
    )
    # The same in another process (Python's own str hash differs between processes).
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from codecbench.report.labels import codec_color; print(codec_color('my-codec'))",
        ],
        env={**os.environ, "PYTHONHASHSEED": "123"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == alone
    many = [f"codec{i}" for i in range(len(PALETTE))]
    assert len(set(codec_colors(many).values())) == len(PALETTE)  # a clash takes the next free colour
    # Two reports with different codecs: hevc and vvc keep their colours in every figure of both.
    seen: dict[str, set[str]] = {}
    for i, codecs in enumerate(
        ({"hevc": 1.0, "vvc": 0.75}, {"av1": 0.9, "hevc": 1.0, "vvc": 0.75, "aaa": 1.1})
    ):
        run = tmp_path / f"run{i}"
        run.mkdir()
        synthetic_results(codecs).to_csv(run / "results.csv", index=False)
        page, _ = render(load_run(run))
        for color, name in re.findall(
            r'"line":\{"color":"(#[0-9a-f]+)"[^}]*\},"mode":"[a-z+]+","name":"([^"]+)"', page
        ):
            seen.setdefault(name, set()).add(color)
    assert seen["hevc"] == {KNOWN_COLORS["hevc"]} and seen["vvc"] == {KNOWN_COLORS["vvc"]}
    assert len(seen["aaa"]) == 1 and seen["aaa"] != seen["hevc"]


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
    assert n == 1 and '<td class="num">-25.00' in page


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
    # 3 sequences: no confidence interval, the per-sequence range instead.
    assert avg["vvc"]["ci_low"] is None and avg["vvc"]["seq_min"] == pytest.approx(-25.0, abs=1e-6)
    assert main(["bd", str(run / "results.csv")]) == 0
    text = capsys.readouterr().out
    assert "seq_min/seq_max: range of the per-sequence values" in text
    assert "no confidence interval: with fewer than 5 sequences" in text
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
    assert "has 3 rate point(s), BD needs 4" in capsys.readouterr().err


def _assert_reads_well(layout: dict) -> None:
    """What a person at a 1,280 px window must get: nothing wider than the column, values and
    intervals that do not wrap, text left-aligned and numbers right-aligned, legends that fit."""
    assert layout["innerWidth"] == 1280
    assert layout["scrollWidth"] <= layout["clientWidth"], layout["overflowing"][:10]
    assert layout["overflowing"] == []
    for t in layout["tables"]:
        assert t["table"] <= t["box"] and t["scroll"] <= t["box"], t
    assert layout["wrapped"] == []
    for c in layout["columns"]:
        if c["head"] in ("why", "warning", "error", "codec", "metric", "(span)") and c["text"]:
            assert c["align"] in ("left", "start"), c
        if "num" in c["cls"].split():
            assert c["align"] == "right", c
    for f in layout["figures"]:
        assert f["legendInside"] and not f["legendScrolls"], f


def test_report_loads_and_draws_in_headless_chromium(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    out = write_report(run, tmp_path / "report.html")
    _, n_figures = render(load_run(run))
    counts, errors, urls, layout = load_in_chromium(out, tmp_path)
    assert errors == []
    assert counts["divs"] == n_figures == 6
    assert counts["drawn"] == n_figures  # every figure has its SVG and at least one drawn trace
    assert counts["svgs"] >= n_figures
    assert counts["images"] == 3 * 4  # every comparison crop decoded (reference + 3 codecs)
    assert urls and all(u.startswith(("file:", "data:")) for u in urls), urls  # nothing from the network
    _assert_reads_well(layout)
    titles = {(f["yTitle"], f["xTitle"]) for f in layout["figures"]}
    assert ("PSNR-Y (dB)", "bpp (bits per pixel)") in titles and ("VMAF", "frame") in titles
    timelines = [f for f in layout["figures"] if f["xTitle"] == "frame"]
    assert len(timelines) == 2
    for f in timelines:  # one line per codec (4 with the hostile-free run: hevc, vvc, divinr[tiny])
        assert f["visible"] == 3 and len({n.split(" @ ")[0] for n in f["names"]}) == 3, f
        assert f["menus"] == [3 * 4]  # 3 sequences x the anchor's 4 rate points


def _wide_run(root: Path, n_sequences: int) -> Path:
    """A results.csv that strains the ranking: ten metrics, six codecs with long labels, one codec
    whose curves never meet the anchor's and one missing a value on one sequence."""
    from tests.test_bd import synthetic_results

    codecs = {"hevc": 1.0, "vvc": 0.75, "av1": 0.8, "divinr[tiny]": 1.2,
              "bmshj2018-factorized[untrained]": 1.4, "cheng2020-attn": 0.9}  # fmt: skip
    seqs = {f"Sequence{i}": 0.3 * i for i in range(n_sequences)}
    res = synthetic_results(codecs, sequences=seqs)
    res["psnr_yuv"], res["psnr_rgb"] = res["psnr_y"] + 1, res["psnr_y"] - 1
    res["vmaf_neg"] = res["vmaf"] - 2
    res["ms_ssim_y"], res["ms_ssim_rgb"] = 0.55 + res["psnr_y"] / 100, 0.5 + res["psnr_y"] / 100
    res["lpips_vgg"], res["dists"] = res["lpips_alex"] * 1.5, res["lpips_alex"] * 0.5
    res.loc[res["codec"] == "divinr[tiny]", ["psnr_y", "psnr_yuv", "psnr_rgb"]] -= 30  # no overlap
    stand_in = res["codec"] == "divinr[tiny]"
    res.loc[stand_in, ["vmaf", "vmaf_neg"]] -= 60
    res.loc[stand_in, ["ms_ssim_y", "ms_ssim_rgb"]] -= 0.5
    res.loc[stand_in, ["lpips_alex", "lpips_vgg", "dists"]] += 2
    # cheng2020-attn: one sequence far above the anchor's rates, so no BD-quality there.
    far = (res["codec"] == "cheng2020-attn") & (res["sequence"] == "Sequence1")
    res.loc[far, "bpp"] *= 100
    root.mkdir(parents=True, exist_ok=True)
    res.to_csv(root / "results.csv", index=False)
    return root


@pytest.mark.parametrize("n_sequences", [3, 5])
def test_wide_report_fits_a_1280_px_window(tmp_path: Path, n_sequences: int) -> None:
    run = _wide_run(tmp_path / "run", n_sequences)
    out = write_report(run, tmp_path / "report.html")
    page = out.read_text()
    assert "Ranking</h2>" in page and page.count('<th class="num">') >= 2 * 10
    # Below 5 sequences the small print is the per-sequence range, called so, never a 95% interval.
    if n_sequences < bd.MIN_CI_SEQUENCES:
        assert "range of the 3 per-sequence values (smallest … largest), not a confidence interval" in page
        assert (
            bd.RANGE_NOTE in page and "95% CI" not in page and "bootstrap confidence interval of" not in page
        )
    else:
        assert (
            "95% bootstrap confidence interval of the mean over the 5 sequences" in page
            and "“range”" not in page
            and "<span>range " not in page
        )
    _, errors, _, layout = load_in_chromium(out, tmp_path)
    assert errors == []
    _assert_reads_well(layout)
