"""HM and VTM wrappers: reported unavailable without binaries; command lines; the full flow with stand-ins.

The real reference software is not installed here. The stand-in ``TAppEncoder``/``TAppDecoder``
parse the HM command line and run x265/ffmpeg, so the wrapper's plumbing (cfg lookup, command line,
stream probing, raw YUV read-back) is exercised end to end.
"""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from codecbench import ffmpeg
from codecbench.errors import CodecbenchError, CodecUnavailableError, ToolError
from codecbench.metrics.psnr import PSNRY
from codecbench.registry import create_codec
from codecbench.video import Clip, VideoFormat, frame_count
from codecbench.yuv import write_yuv

ENV = [f"CODECBENCH_{s}_{k}" for s in ("HM", "VTM") for k in ("ROOT", "ENCODER", "DECODER", "CFG")]

FAKE_ENCODER = """
import subprocess, sys
a = sys.argv[1:]
if "--help" in a:
    print("HM software: Encoder Version [16.99] (fake)"); sys.exit(0)
opt = {a[i]: a[i + 1] for i in range(len(a) - 1) if a[i].startswith("-") and not a[i].startswith("--")}
depth = next(x.split("=")[1] for x in a if x.startswith("--InputBitDepth="))
pix = "yuv420p" if depth == "8" else "yuv420p10le"
if opt["-q"] == "99":
    print("Error: QP out of range"); sys.exit(1)
subprocess.run([FFMPEG, "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", pix,
    "-s", opt["-wdt"] + "x" + opt["-hgt"], "-r", opt["-fr"], "-i", opt["-i"], "-frames:v", opt["-f"],
    "-c:v", "libx265", "-x265-params", "qp=" + opt["-q"] + ":info=0:log-level=error",
    "-f", "hevc", opt["-b"]], check=True)
"""

FAKE_DECODER = """
import subprocess, sys
a = sys.argv[1:]
opt = {a[i]: a[i + 1] for i in range(len(a) - 1) if a[i].startswith("-")}
assert opt["-d"] == "0"
subprocess.run([FFMPEG, "-v", "error", "-y", "-f", "hevc", "-i", opt["-b"], "-fps_mode", "passthrough",
    "-f", "rawvideo", opt["-o"]], check=True)
"""


@pytest.fixture(autouse=True)
def no_reference_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ENV:
        monkeypatch.delenv(var, raising=False)


def _script(path: Path, body: str) -> None:
    path.write_text(f"#!{sys.executable}\nFFMPEG = {ffmpeg.ffmpeg_exe()!r}\n{body}")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.fixture
def hm_root(tmp_path: Path) -> Path:
    """An HM checkout layout: bin/ with stand-in binaries, cfg/ with the CTC cfg names."""
    root = tmp_path / "HM"
    (root / "bin").mkdir(parents=True)
    (root / "cfg").mkdir()
    _script(root / "bin" / "TAppEncoderStatic", FAKE_ENCODER)
    _script(root / "bin" / "TAppDecoderStatic", FAKE_DECODER)
    for name in (
        "encoder_lowdelay_P_main.cfg",
        "encoder_randomaccess_main.cfg",
        "encoder_lowdelay_P_main10.cfg",
    ):
        (root / "cfg" / name).write_text("GOPSize : 4\n")
    return root


@pytest.mark.parametrize("name, binary, env", [("hm", "TAppEncoder", "HM"), ("vtm", "EncoderApp", "VTM")])
def test_unavailable_without_binaries_says_what_to_set(
    name: str, binary: str, env: str, tmp_path: Path
) -> None:
    codec = create_codec(name)
    availability = codec.available()
    assert not availability
    assert (
        f"CODECBENCH_{env}_ROOT" in availability.reason and f"CODECBENCH_{env}_ENCODER" in availability.reason
    )
    assert binary in availability.reason and "cfg" in availability.reason
    assert "not installed" in codec.version
    clip = Clip("c", tmp_path / "c.yuv", VideoFormat(64, 64), 24.0, 1)
    with pytest.raises(CodecUnavailableError, match="unavailable"):
        codec.encode(clip, "37", tmp_path)
    wrong = create_codec(name, {"root": str(tmp_path)})
    assert "none of" in wrong.available().reason


def test_command_lines(hm_root: Path, tmp_path: Path) -> None:
    hm = create_codec("hm", {"root": str(hm_root), "params": "--SEIDecodedPictureHash=1"})
    assert hm.available(), hm.available().reason
    clip = Clip("c", tmp_path / "c.yuv", VideoFormat(66, 50), 30.0, 9)
    cmd = hm.encode_command(clip, "37", tmp_path / "o.hevc", "ENC", hm.cfg_file()[0])
    assert cmd[:3] == ["ENC", "-c", str(hm_root / "cfg" / "encoder_lowdelay_P_main.cfg")]
    text = " ".join(cmd)
    for part in ("-wdt 66 -hgt 50", "-fr 30", "-f 9", "-q 37", "--InternalBitDepth=8", "--OutputBitDepth=8"):
        assert part in text
    assert "--ConformanceWindowMode=1" in cmd and "--IntraPeriod=-1" in cmd
    assert cmd[-1] == "--SEIDecodedPictureHash=1"
    assert hm.decode_command(Path("s.hevc"), Path("d.yuv"), "DEC") == [
        "DEC",
        "-b",
        "s.hevc",
        "-o",
        "d.yuv",
        "-d",
        "0",
    ]
    ra = create_codec("hm", {"root": str(hm_root), "config": "ra"})
    assert "--IntraPeriod=32" in ra.encode_command(clip, "37", Path("o"), "E", "c")
    assert ra.cfg_file()[0].endswith("encoder_randomaccess_main.cfg")
    vtm = create_codec("vtm", {"config": "ra", "intra_period": 64})
    assert "--IntraPeriod=64" in vtm.encode_command(clip, "50", Path("o"), "E", "c")
    assert vtm.default_rate_points()[0] == "59"
    with pytest.raises(CodecbenchError, match="0..51"):
        hm.check_rate_point("60")


def test_round_trip_through_stand_in_binaries(hm_root: Path, tmp_path: Path, monkeypatch) -> None:
    """Binaries found through $CODECBENCH_HM_ROOT; the decoded size comes from the stream (66x50)."""
    monkeypatch.setenv("CODECBENCH_HM_ROOT", str(hm_root))
    fmt = VideoFormat(66, 50)
    src = tmp_path / "src.yuv"
    ffmpeg.run(["-f", "lavfi", "-i", "testsrc2=size=66x50:rate=24", "-frames:v", "3", "-pix_fmt", "yuv420p"]
               + ["-f", "rawvideo", str(src)])  # fmt: skip
    clip = Clip("src", src, fmt, 24.0, 3)
    hm = create_codec("hm")
    assert hm.version.startswith("HM 16.99")
    bitstream = hm.encode(clip, "30", tmp_path / "w")
    assert bitstream.read_bytes()[:4] == b"\x00\x00\x00\x01"
    out = tmp_path / "dec.yuv"
    write_yuv(out, fmt, hm.decode(bitstream, tmp_path / "w"))
    decoded = Clip("dec", out, fmt, 24.0, frame_count(out, fmt))
    assert decoded.frames == 3 and PSNRY().evaluate(clip, decoded).mean() > 30
    failing = create_codec("hm", {"params": "-q 99"})  # the stand-in refuses this QP, like HM would
    with pytest.raises(ToolError, match="(?s)exit 1.*QP out of range"):
        failing.encode(clip, "51", tmp_path / "x")
