"""``codecbench datasets fetch``: local HTTP downloads, resume, checksums, extraction, validation.

Nothing here touches the internet: every URL points at a ``http.server`` thread on 127.0.0.1 that serves
tiny archives of a fake dataset and honours (or, on demand, ignores) HTTP Range requests.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import re
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import py7zr
import pytest

from codecbench.cli import main
from codecbench.datasets.base import Dataset, Download, SequenceInfo
from codecbench.datasets.catalog import CLASS_B, MCL_JCV, UVG
from codecbench.datasets.download import download
from codecbench.datasets.fetch import default_root, fetch, validate
from codecbench.datasets.manifest import MANIFEST
from codecbench.errors import CodecbenchError

# ------------------------------------------------------------------------------------- local server


class FakeServer:
    """State shared with the request handler: files to serve and how to misbehave."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.honour_range = True
        self.cut_after: int | None = None  # send this many body bytes, then drop the connection
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        self.sent: list[int] = []  # body bytes sent per request
        self.base = ""

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        state: FakeServer = self.server.state  # type: ignore[attr-defined]
        rng = self.headers.get("Range")
        state.requests.append((self.path, rng))
        data = state.files.get(self.path)
        if data is None:
            self.send_error(404, "Not Found")
            return
        start = 0
        if rng and state.honour_range:
            start = int(re.fullmatch(r"bytes=(\d+)-", rng).group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                state.sent.append(0)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if state.cut_after is not None:
            body = body[: state.cut_after]
        self.wfile.write(body)
        state.sent.append(len(body))

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[FakeServer]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = FakeServer()
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.state = state  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


# ------------------------------------------------------------------------------------- fake dataset

ALPHA = SequenceInfo("Alpha", 32, 16, 24, 3, filename="Alpha_32x16_24.yuv")
BETA = SequenceInfo("Beta", 16, 16, 30, 2, bit_depth=10, filename="Beta_16x16_30_10bit.yuv")
GAMMA = SequenceInfo("Gamma", 32, 16, 25, 4, filename="Gamma_32x16_25.yuv")


def raw(seq: SequenceInfo, frames: int | None = None) -> bytes:
    """Deterministic raw content with ``frames`` whole frames (default: the published count)."""
    n = seq.frames if frames is None else frames
    return (
        np.random.default_rng(len(seq.name)).integers(0, 256, n * seq.format.frame_bytes, np.uint8).tobytes()
    )


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def tar_gz_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def sevenzip_bytes(members: dict[str, bytes], tmp: Path) -> bytes:
    path = tmp / "build.7z"
    with py7zr.SevenZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(data, name)
    out = path.read_bytes()
    path.unlink()
    return out


@pytest.fixture
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """One archive per format; members sit in sub-folders, next to files that must not be extracted."""
    tmp = tmp_path_factory.mktemp("build")
    return {
        "alpha.zip": zip_bytes({"tiny/Alpha_32x16_24.yuv": raw(ALPHA), "tiny/LICENSE.txt": b"terms"}),
        "beta.tar.gz": tar_gz_bytes({"x/y/Beta_16x16_30_10bit.yuv": raw(BETA)}),
        "gamma.7z": sevenzip_bytes({"Gamma_32x16_25.yuv": raw(GAMMA), "README.txt": b"copyright"}, tmp),
    }


def tiny_dataset(server: FakeServer, archives: dict[str, bytes], **overrides: Download) -> Dataset:
    """A public dataset whose three archives are served locally (alpha: sha256, beta: md5, gamma: none)."""
    for name, data in archives.items():
        server.files[f"/{name}"] = data
    downloads = {
        "alpha": Download(
            server.url("alpha.zip"),
            "alpha.zip",
            sha256=hashlib.sha256(archives["alpha.zip"]).hexdigest(),
            sequences=("Alpha",),
        ),
        "beta": Download(
            server.url("beta.tar.gz"),
            "beta.tar.gz",
            md5=hashlib.md5(archives["beta.tar.gz"]).hexdigest(),
            sequences=("Beta",),
        ),
        "gamma": Download(server.url("gamma.7z"), "gamma.7z", sequences=("Gamma",)),
    }
    downloads.update(overrides)
    return Dataset(
        "tiny", "three tiny fake sequences", (ALPHA, BETA, GAMMA), downloads=tuple(downloads.values())
    )


def quiet_fetch(ds: Dataset, root: Path, names: list[str] | None = None, **kw: object):
    logs: list[str] = []
    report = fetch(ds, root, names, progress=False, log=logs.append, **kw)
    return report, "\n".join(logs)


# ------------------------------------------------------------------------------------- public path


def test_fetch_downloads_verifies_extracts_and_validates(server, archives, tmp_path):
    ds = tiny_dataset(server, archives)
    report, log = quiet_fetch(ds, tmp_path)

    assert report.complete, report.summary()
    for seq in (ALPHA, BETA, GAMMA):
        assert (tmp_path / seq.file).read_bytes() == raw(seq)
    assert not (tmp_path / "LICENSE.txt").exists() and not (tmp_path / "README.txt").exists()
    assert sorted(p.name for p in report.downloaded) == ["alpha.zip", "beta.tar.gz", "gamma.7z"]
    assert not any((tmp_path / n).exists() for n in archives)  # removed once their sequences validate

    manifest = json.loads((tmp_path / MANIFEST).read_text())
    for name, data in archives.items():
        entry = manifest["files"][name]
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert entry["size"] == len(data)
    assert manifest["files"]["alpha.zip"]["checksum"] == "published"
    assert manifest["files"]["beta.tar.gz"]["checksum"] == "published"
    assert manifest["files"]["gamma.7z"]["checksum"].startswith("recorded")
    for seq in (ALPHA, BETA, GAMMA):
        assert manifest["sequences"][seq.file]["sha256"] == hashlib.sha256(raw(seq)).hexdigest()
    assert "sha256" in log and "checksum verified" in log

    before = len(server.requests)
    again, _ = quiet_fetch(ds, tmp_path)
    assert again.complete and len(server.requests) == before  # nothing to do: no network access


def test_selected_sequences_and_keep_archives(server, archives, tmp_path):
    ds = tiny_dataset(server, archives)
    report, _ = quiet_fetch(ds, tmp_path, ["Gamma"], keep_archives=True)

    assert report.complete and [s.sequence.name for s in report.statuses] == ["Gamma"]
    assert [p for p, _ in server.requests] == ["/gamma.7z"]
    assert (tmp_path / "gamma.7z").read_bytes() == archives["gamma.7z"]
    assert not (tmp_path / ALPHA.file).exists()
    with pytest.raises(CodecbenchError, match="unknown sequence 'Delta'"):
        quiet_fetch(ds, tmp_path, ["Delta"])


def test_interrupted_download_resumes_with_range(server, archives, tmp_path):
    ds = tiny_dataset(server, archives)
    size = len(archives["alpha.zip"])
    server.cut_after = 1000
    with pytest.raises(CodecbenchError, match=r"ended early: got 1000 of \d+ bytes.*kept"):
        quiet_fetch(ds, tmp_path, ["Alpha"])
    part = tmp_path / "alpha.zip.part"
    assert part.stat().st_size == 1000 and not (tmp_path / "alpha.zip").exists()

    server.cut_after = None
    report, log = quiet_fetch(ds, tmp_path, ["Alpha"])
    assert report.complete and "resuming" in log
    assert server.requests[-1] == ("/alpha.zip", "bytes=1000-")
    assert server.sent[-1] == size - 1000  # only the missing bytes travelled
    assert (tmp_path / ALPHA.file).read_bytes() == raw(ALPHA)
    assert not part.exists()


def test_server_ignoring_range_restarts_from_zero(server, archives, tmp_path):
    ds = tiny_dataset(server, archives)
    (tmp_path / "alpha.zip.part").write_bytes(b"x" * 500)  # stale bytes a 200 reply must overwrite
    server.honour_range = False
    report, _ = quiet_fetch(ds, tmp_path, ["Alpha"])
    assert server.requests[-1] == ("/alpha.zip", "bytes=500-")
    assert server.sent[-1] == len(archives["alpha.zip"])
    assert report.complete  # the published SHA-256 matched, so the stale prefix was dropped


def test_partial_file_already_complete_gets_416_and_is_used(server, archives, tmp_path):
    ds = tiny_dataset(server, archives)
    (tmp_path / "beta.tar.gz.part").write_bytes(archives["beta.tar.gz"])
    report, _ = quiet_fetch(ds, tmp_path, ["Beta"])
    assert report.complete
    assert server.sent == [0]  # a 416 with "bytes */size": no body re-sent


@pytest.mark.parametrize("kind", ["sha256", "md5"])
def test_bad_checksum_is_quarantined_and_reported(server, archives, tmp_path, kind):
    ds = tiny_dataset(server, archives)
    wrong = Download(server.url("alpha.zip"), "alpha.zip", sequences=("Alpha",), **{kind: "0" * 32})
    ds = dataclasses.replace(ds, downloads=(wrong,))
    with pytest.raises(CodecbenchError, match=f"{'SHA-256' if kind == 'sha256' else 'MD5'} mismatch"):
        quiet_fetch(ds, tmp_path, ["Alpha"])
    assert (tmp_path / "alpha.zip.bad").read_bytes() == archives["alpha.zip"]
    assert not (tmp_path / "alpha.zip").exists() and not (tmp_path / "alpha.zip.part").exists()
    assert not (tmp_path / ALPHA.file).exists()


def test_recorded_checksum_detects_a_changed_archive(server, archives, tmp_path):
    ds = tiny_dataset(server, archives)
    quiet_fetch(ds, tmp_path, ["Gamma"], keep_archives=True)  # no published checksum: recorded
    (tmp_path / GAMMA.file).unlink()
    (tmp_path / "gamma.7z").write_bytes(archives["gamma.7z"][:-1] + b"!")
    with pytest.raises(CodecbenchError, match="SHA-256 mismatch"):
        quiet_fetch(ds, tmp_path, ["Gamma"])
    assert (tmp_path / "gamma.7z.bad").exists()


def test_http_404_and_unreachable_server(server, tmp_path):
    with pytest.raises(CodecbenchError, match="HTTP 404"):
        download(server.url("nope.zip"), tmp_path / "nope.zip", progress=False)
    assert not (tmp_path / "nope.zip.part").exists()

    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(CodecbenchError, match=r"download of http://127\.0\.0\.1:\d+/x\.zip failed"):
        download(f"http://127.0.0.1:{port}/x.zip", tmp_path / "x.zip", progress=False, timeout=5)


@pytest.mark.parametrize("name", ["alpha.zip", "beta.tar.gz", "gamma.7z"])
def test_corrupt_archive_is_a_clear_error(server, archives, tmp_path, name):
    ds = tiny_dataset(server, archives)
    server.files[f"/{name}"] = b"this is not an archive" * 50
    seq = {"alpha.zip": "Alpha", "beta.tar.gz": "Beta", "gamma.7z": "Gamma"}[name]
    plain = Download(server.url(name), name, sequences=(seq,))  # no checksum: corruption shows on extraction
    ds = dataclasses.replace(ds, downloads=(plain,))
    with pytest.raises(CodecbenchError, match="corrupt or unreadable"):
        quiet_fetch(ds, tmp_path, [seq])
    assert (tmp_path / f"{name}.bad").exists() and not (tmp_path / name).exists()


def test_archive_without_the_expected_file(server, tmp_path):
    server.files["/alpha.zip"] = zip_bytes({"Other_32x16_24.yuv": raw(ALPHA)})
    dl = Download(server.url("alpha.zip"), "alpha.zip", sequences=("Alpha",))
    ds = Dataset("tiny", "", (ALPHA,), downloads=(dl,))
    with pytest.raises(CodecbenchError, match="does not contain Alpha_32x16_24.yuv"):
        quiet_fetch(ds, tmp_path)


def test_catalog_uvg_archive_and_file_names(server, tmp_path, monkeypatch):
    """ReadySteadyGo comes in ``ReadySetGo_..._RAW.7z``: the catalog's names must match the official ones."""
    official_archive = "ReadySetGo_1920x1080_120fps_420_8bit_YUV_RAW.7z"
    official_file = "ReadySteadyGo_1920x1080_120fps_420_8bit_YUV.yuv"
    seq = UVG.sequence("ReadySteadyGo")
    (dl,) = [d for d in UVG.downloads if "ReadySteadyGo" in d.sequences]
    assert dl.url == "https://ultravideo.fi/video/" + official_archive and seq.file == official_file

    tiny_seq = dataclasses.replace(seq, width=32, height=16, frames=2)  # same names, test-sized
    server.files[f"/video/{official_archive}"] = sevenzip_bytes(
        {official_file: raw(tiny_seq), "ReadySetGo_copyright.txt": b"(c) UVG"}, tmp_path
    )
    local = dataclasses.replace(dl, url=dl.url.replace("https://ultravideo.fi", server.base))
    uvg = dataclasses.replace(UVG, sequences=(tiny_seq,), downloads=(local,))
    report, _ = quiet_fetch(uvg, tmp_path / "uvg")
    assert report.complete
    assert (tmp_path / "uvg" / official_file).read_bytes() == raw(tiny_seq)


# ----------------------------------------------------------------------------------- licensed path


def licensed() -> Dataset:
    return Dataset(
        "tinylicensed",
        "licensed fake set",
        (ALPHA, BETA, GAMMA),
        instructions="Ask the fake consortium for access; put Alpha_32x16_24.yuv ... in the root.",
    )


def test_licensed_prints_instructions_and_validates(tmp_path):
    ds = licensed()
    report, log = quiet_fetch(ds, tmp_path)
    assert "Ask the fake consortium" in log
    assert not report.complete and [s.problem for s in report.statuses] == ["missing"] * 3

    fb = ALPHA.format.frame_bytes
    (tmp_path / ALPHA.file).write_bytes(raw(ALPHA) + b"12345")  # not a whole number of frames
    (tmp_path / BETA.file).write_bytes(raw(BETA, frames=1))  # fewer frames than published
    (tmp_path / GAMMA.file).write_bytes(raw(GAMMA, frames=5))  # more is fine
    report, _ = quiet_fetch(ds, tmp_path)
    problems = {s.sequence.name: s.problem for s in report.problems}
    assert set(problems) == {"Alpha", "Beta"}
    assert "not a whole number" in problems["Alpha"] and str(fb) in problems["Alpha"]
    assert problems["Beta"] == "has 1 frames, the dataset publishes 2"
    assert "PROBLEM" in report.summary() and "2 of 3" in report.summary()

    (tmp_path / ALPHA.file).write_bytes(raw(ALPHA))
    (tmp_path / BETA.file).write_bytes(raw(BETA))
    report, _ = quiet_fetch(ds, tmp_path)
    assert report.complete and [s.frames for s in report.statuses] == [3, 2, 5]


def test_licensed_extracts_archives_the_user_put_in_root(tmp_path):
    (tmp_path / "from_consortium.zip").write_bytes(zip_bytes({"deep/dir/Alpha_32x16_24.yuv": raw(ALPHA)}))
    (tmp_path / "broken.7z").write_bytes(b"not a 7z")
    (tmp_path / BETA.file).write_bytes(raw(BETA))
    (tmp_path / GAMMA.file).write_bytes(raw(GAMMA))
    report, log = quiet_fetch(licensed(), tmp_path)
    assert report.complete, report.summary()
    assert (tmp_path / ALPHA.file).read_bytes() == raw(ALPHA)
    assert (tmp_path / "from_consortium.zip").exists()  # the user's archive is left alone
    assert any("broken.7z" in w for w in report.warnings) and "warning" in log


# ------------------------------------------------------------------------------------------------ CLI


def test_cli_fetch_licensed_lists_missing_and_fails(tmp_path, capsys):
    assert main(["datasets", "fetch", "class-b", "--root", str(tmp_path), "--sequences", "Cactus"]) == 1
    out = capsys.readouterr().out
    assert "MarketPlace_1920x1080_60fps_10bit_420.yuv" in out  # the instructions name every file
    assert "Cactus_1920x1080_50.yuv  PROBLEM: missing" in out and "missing or invalid: Cactus" in out


def test_cli_fetch_public_succeeds(server, archives, tmp_path, monkeypatch, capsys):
    ds = tiny_dataset(server, archives)
    monkeypatch.setattr("codecbench.cli.datasets.get_dataset", lambda name: ds)
    assert main(["datasets", "fetch", "tiny", "--root", str(tmp_path), "--no-progress"]) == 0
    assert "all 3 sequence(s) valid" in capsys.readouterr().out


def test_cli_info_and_unknown_dataset(capsys):
    assert main(["datasets", "info", "mcl-jcv"]) == 0
    out = capsys.readouterr().out
    assert "videoSRC30_1920x1080_30.yuv" in out and "huggingface.co/datasets/uscmcl" in out
    assert main(["datasets", "fetch", "no-such-set"]) == 2
    assert "unknown dataset 'no-such-set'" in capsys.readouterr().err


def test_default_root(monkeypatch, tmp_path):
    monkeypatch.setenv("CODECBENCH_DATA", str(tmp_path))
    assert default_root("uvg") == tmp_path / "uvg"
    monkeypatch.delenv("CODECBENCH_DATA")
    monkeypatch.delenv("CODECBENCH_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert default_root("uvg") == Path.home() / ".cache" / "codecbench" / "datasets" / "uvg"


def test_validate_uses_published_counts(tmp_path):
    (tmp_path / GAMMA.file).write_bytes(raw(GAMMA, frames=3))
    (status,) = validate(licensed(), tmp_path, ["Gamma"])
    assert status.frames == 3 and status.problem == "has 3 frames, the dataset publishes 4"


# ------------------------------------------------------------------------------------------- catalog


#: The standard test sets of the catalog.
DATASETS = (UVG, MCL_JCV, CLASS_B)


def test_catalog_counts_and_unique_names():
    assert [d.name for d in DATASETS] == ["uvg", "mcl-jcv", "class-b"]
    assert [len(d.sequences) for d in DATASETS] == [7, 30, 7]
    for d in DATASETS:
        names = [s.name for s in d.sequences]
        files = [s.file for s in d.sequences]
        assert len(set(names)) == len(names) and len(set(files)) == len(files)


@pytest.mark.parametrize("ds", DATASETS, ids=lambda d: d.name)
def test_catalog_sequence_fields_are_valid(ds):
    for s in ds.sequences:
        assert (s.width, s.height) == (1920, 1080) and s.chroma == "420" and s.bit_depth in (8, 10)
        assert s.fps in (24, 25, 30, 50, 60, 120) and s.frames > 0
        assert s.format.frame_bytes == 1920 * 1080 * 3 // 2 * (2 if s.bit_depth == 10 else 1)
        assert s.file.endswith(".yuv") and "/" not in s.file and s.source
        for digest, n in ((s.sha256, 64), (s.md5, 32)):
            assert digest is None or re.fullmatch(f"[0-9a-f]{{{n}}}", digest)
    if ds.public:
        covered = [n for dl in ds.downloads for n in dl.sequences]
        assert sorted(covered) == sorted(s.name for s in ds.sequences)  # each sequence exactly once
        assert all(dl.url.startswith("https://") and dl.url.endswith(dl.filename) for dl in ds.downloads)
    else:
        assert ds.instructions and not ds.downloads


def test_catalog_published_metadata():
    uvg = {s.name: (s.fps, s.frames, s.bit_depth) for s in UVG.sequences}
    assert uvg == {n: (120, 300 if n == "ShakeNDry" else 600, 8) for n in uvg}
    assert sorted(uvg) == sorted(
        ["Beauty", "Bosphorus", "HoneyBee", "Jockey", "ReadySteadyGo", "ShakeNDry", "YachtRide"]
    )
    assert UVG.sequence("Beauty").file == "Beauty_1920x1080_120fps_420_8bit_YUV.yuv"

    assert [s.name for s in MCL_JCV.sequences] == [f"videoSRC{i:02d}" for i in range(1, 31)]
    assert all(
        s.frames == 5 * s.fps and s.file == f"{s.name}_1920x1080_{s.fps}.yuv" for s in MCL_JCV.sequences
    )
    fps = {s.name: s.fps for s in MCL_JCV.sequences}
    assert sorted(n for n, f in fps.items() if f == 24) == [
        "videoSRC17", "videoSRC21", "videoSRC22", "videoSRC23", "videoSRC24", "videoSRC25", "videoSRC29"
    ]  # fmt: skip
    assert sorted(n for n, f in fps.items() if f == 25) == [
        "videoSRC05", "videoSRC06", "videoSRC07", "videoSRC08", "videoSRC09", "videoSRC18", "videoSRC20"
    ]  # fmt: skip

    b = {s.name: (s.fps, s.frames, s.bit_depth, s.file) for s in CLASS_B.sequences}
    assert b == {
        "BasketballDrive": (50, 500, 8, "BasketballDrive_1920x1080_50.yuv"),
        "BQTerrace": (60, 600, 8, "BQTerrace_1920x1080_60.yuv"),
        "Cactus": (50, 500, 8, "Cactus_1920x1080_50.yuv"),
        "Kimono1": (24, 240, 8, "Kimono1_1920x1080_24.yuv"),
        "ParkScene": (24, 240, 8, "ParkScene_1920x1080_24.yuv"),
        "MarketPlace": (60, 600, 10, "MarketPlace_1920x1080_60fps_10bit_420.yuv"),
        "RitualDance": (60, 600, 10, "RitualDance_1920x1080_60fps_10bit_420.yuv"),
    }
    assert all(s.file in CLASS_B.instructions for s in CLASS_B.sequences)
