"""The ffmpeg anchors (hevc, vvc, av1): round trips, raw streams, PSNR against ffmpeg, BD-rate, errors.

Clips are generated here with ffmpeg's lavfi sources: tiny sizes and few frames keep the file fast.
"""

from __future__ import annotations

import os
import re
import stat
import warnings
from pathlib import Path

import numpy as np
import pytest
from codecbench_anchors.rates import parse_rate_point
from codecbench_anchors.y4m import parse_header

from codecbench import ffmpeg
from codecbench.errors import BitstreamError, CodecbenchError, ToolError
from codecbench.metrics.psnr import PSNRY
from codecbench.registry import create_codec
from codecbench.video import Clip, VideoFormat, frame_count
from codecbench.yuv import write_yuv

FAST = {"hevc": {"preset": "ultrafast"}, "vvc": {"preset": "faster"}, "av1": {"preset": "8"}}
#: A mid-ladder rate point of each codec: good enough quality to prove the decode is right.
MID_RATE = {"hevc": "30", "vvc": "32", "av1": "30"}


def make_clip(
    path: Path, width: int, height: int, frames: int, bit_depth: int = 8, source: str = "testsrc2"
) -> Clip:
    """Render ``frames`` frames of a lavfi source to a raw YUV file."""
    fmt = VideoFormat(width, height, bit_depth)
    ffmpeg.run(
        ["-f", "lavfi", "-i", f"{source}=size={width}x{height}:rate=24", "-frames:v", str(frames)]
        + ["-pix_fmt", fmt.pix_fmt, "-f", "rawvideo", str(path)]
    )
    return Clip(path.stem, path, fmt, 24.0, frames)


def decode_to_file(codec, bitstream: Path, fmt: VideoFormat, out: Path) -> Clip:
    write_yuv(out, fmt, codec.decode(bitstream, out.parent))
    return Clip(out.stem, out, fmt, 24.0, frame_count(out, fmt))


@pytest.fixture(scope="module")
def clip8(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_clip(tmp_path_factory.mktemp("src") / "ts8.yuv", 128, 96, 6)


@pytest.fixture(scope="module")
def clip10(tmp_path_factory: pytest.TempPathFactory) -> Clip:
    return make_clip(tmp_path_factory.mktemp("src") / "mb10.yuv", 96, 64, 4, 10, "mandelbrot")


@pytest.mark.parametrize("name", ["hevc", "vvc", "av1"])
@pytest.mark.parametrize("config", ["ld", "ra"])
def test_round_trip_8bit(name: str, config: str, clip8: Clip, tmp_path: Path) -> None:
    codec = create_codec(name, {**FAST[name], "config": config})
    assert codec.available(), codec.available().reason
    bitstream = codec.encode(clip8, MID_RATE[name], tmp_path)
    assert bitstream.parent == tmp_path and bitstream.suffix == codec.bitstream_suffix
    decoded = decode_to_file(codec, bitstream, clip8.format, tmp_path / "dec.yuv")
    assert decoded.frames == clip8.frames
    psnr = PSNRY().evaluate(clip8, decoded)
    assert psnr.shape == (clip8.frames,)
    assert 28.0 < psnr.mean() < 60.0  # a real reconstruction, not a grey or shifted picture


@pytest.mark.parametrize("name", ["hevc", "vvc", "av1"])
def test_10bit_in_10bit_out(name: str, clip10: Clip, tmp_path: Path) -> None:
    codec = create_codec(name, FAST[name])
    bitstream = codec.encode(clip10, MID_RATE[name], tmp_path)
    frames = list(codec.decode(bitstream, tmp_path))
    assert len(frames) == clip10.frames
    assert all(f.matches(clip10.format) for f in frames)
    assert max(int(f.y.max()) for f in frames) > 255  # real 10-bit samples, not 8-bit widened
    decoded = decode_to_file(codec, bitstream, clip10.format, tmp_path / "dec.yuv")
    assert PSNRY().evaluate(clip10, decoded).mean() > 30.0


@pytest.mark.parametrize("name", ["hevc", "vvc", "av1"])
def test_odd_size_is_padded_and_cropped_in_the_stream(name: str, tmp_path: Path) -> None:
    """66x50 is no multiple of 8: the encoder pads, the conformance window crops, nothing else is sent."""
    clip = make_clip(tmp_path / "odd.yuv", 66, 50, 3)
    codec = create_codec(name, FAST[name])
    decoded = decode_to_file(
        codec, codec.encode(clip, MID_RATE[name], tmp_path), clip.format, tmp_path / "d.yuv"
    )
    assert decoded.frames == 3
    assert PSNRY().evaluate(clip, decoded).mean() > 28.0


@pytest.mark.parametrize(
    "name, start",
    [("hevc", (b"\x00\x00\x00\x01", b"\x00\x00\x01")), ("vvc", (b"\x00\x00\x00\x01", b"\x00\x00\x01"))],
)
def test_stream_is_raw_annex_b_without_encoder_info(
    name: str, start: tuple, clip8: Clip, tmp_path: Path
) -> None:
    data = create_codec(name, FAST[name]).encode(clip8, "40", tmp_path).read_bytes()
    assert data.startswith(start)  # a start code, no container header
    assert b"x265" not in data and b"options:" not in data  # no informational SEI inflating the rate


def test_av1_stream_is_obu_starting_with_temporal_delimiter(clip8: Clip, tmp_path: Path) -> None:
    data = create_codec("av1", FAST["av1"]).encode(clip8, "40", tmp_path).read_bytes()
    assert data[:2] == b"\x12\x00"  # OBU_TEMPORAL_DELIMITER with has_size_field, size 0
    assert not data.startswith(b"DKIF")  # not IVF


def test_encoding_is_deterministic(clip8: Clip, tmp_path: Path) -> None:
    codec = create_codec("hevc", FAST["hevc"])
    a = codec.encode(clip8, "35", tmp_path / "a").read_bytes()
    b = codec.encode(clip8, "35", tmp_path / "b").read_bytes()
    assert a == b


def _frame_types(bitstream: Path) -> str:
    proc = ffmpeg.run(["-f", "hevc", "-i", str(bitstream), "-vf", "showinfo", "-f", "null", "-"])
    return "".join(re.findall(r"type:([IPB])", proc.stderr.decode()))


def test_hevc_configs_give_low_delay_p_and_hierarchical_b(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "c.yuv", 64, 64, 20)
    ld = _frame_types(create_codec("hevc", FAST["hevc"]).encode(clip, "35", tmp_path / "ld"))
    assert ld == "I" + "P" * 19
    ld8 = create_codec("hevc", {**FAST["hevc"], "intra_period": 8})
    assert _frame_types(ld8.encode(clip, "35", tmp_path / "ld8")) == ("I" + "P" * 7) * 2 + "I" + "P" * 3
    ra = _frame_types(
        create_codec("hevc", {**FAST["hevc"], "config": "ra"}).encode(clip, "35", tmp_path / "ra")
    )
    assert ra.count("I") == 1 and ra.count("B") >= 12  # intra period 24 at 24 fps; B-pyramid GOP of 8


def _ffmpeg_psnr_y(ref: Clip, dist: Clip, stats: Path) -> np.ndarray:
    """Per-frame PSNR-Y from ffmpeg's psnr filter, both inputs limited to exactly the same frames."""
    fmt = ref.format
    args = ffmpeg.rawvideo_input(dist.path, fmt.pix_fmt, fmt.width, fmt.height)
    args += ffmpeg.rawvideo_input(ref.path, fmt.pix_fmt, fmt.width, fmt.height)
    args += [
        "-frames:v",
        str(ref.frames),
        "-lavfi",
        f"[0:v][1:v]psnr=stats_file={stats.name}",
        "-f",
        "null",
        "-",
    ]
    cwd = Path.cwd()
    os.chdir(stats.parent)  # the filter's option parser dislikes ':' and '/' escapes; keep it simple
    try:
        ffmpeg.run(args)
    finally:
        os.chdir(cwd)
    values = re.findall(r"psnr_y:(\S+)", stats.read_text())
    return np.array([float(v) for v in values])


@pytest.mark.parametrize("name, clip_name", [("hevc", "clip8"), ("vvc", "clip10")])
def test_psnr_y_agrees_with_ffmpeg_psnr_filter(name: str, clip_name: str, request, tmp_path: Path) -> None:
    clip: Clip = request.getfixturevalue(clip_name)
    codec = create_codec(name, FAST[name])
    decoded = decode_to_file(codec, codec.encode(clip, "37", tmp_path), clip.format, tmp_path / "dec.yuv")
    ours = PSNRY().evaluate(clip, decoded)
    theirs = _ffmpeg_psnr_y(clip, decoded, tmp_path / "psnr.log")
    assert len(theirs) == clip.frames
    assert np.all(np.abs(ours - theirs) < 0.02), (ours, theirs)
    assert abs(ours.mean() - theirs.mean()) < 0.02


def test_vvc_beats_hevc_in_bd_rate(tmp_path: Path) -> None:
    """Same clip, low delay, 4 QPs each: VVenC needs fewer bits than x265 for the same PSNR-Y."""
    from bjontegaard import bd_rate

    clip = make_clip(tmp_path / "bd.yuv", 128, 96, 8)
    curves = {}
    for name, qps, opts in [
        ("hevc", ("42", "37", "32", "27"), {"preset": "medium"}),
        ("vvc", ("41", "36", "31", "26"), {"preset": "faster"}),
    ]:
        codec = create_codec(name, opts)
        rates, psnrs = [], []
        for qp in qps:
            bitstream = codec.encode(clip, qp, tmp_path / name)
            decoded = decode_to_file(codec, bitstream, clip.format, tmp_path / name / "dec.yuv")
            rates.append(bitstream.stat().st_size * 8 / (clip.format.pixels * clip.frames))
            psnrs.append(PSNRY().evaluate(clip, decoded).mean())
        curves[name] = (rates, psnrs)
    assert all(np.all(np.diff(r) > 0) for r, _ in curves.values())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the curves must overlap enough for a trustworthy BD-rate
        delta = bd_rate(*curves["hevc"], *curves["vvc"], method="akima", require_matching_points=False)
    assert delta < -5.0, (delta, curves)


def test_default_ladders_span_the_low_rate_regime(tmp_path: Path) -> None:
    """On a small synthetic clip the ladders go from the extreme
    low-rate regime upwards, lowest rate first. testsrc2's sharp synthetic edges cost more bits than
    camera content: the real-content figures (0.003-0.1 bpp) are in anchors/README.md."""
    clip = make_clip(tmp_path / "s.yuv", 384, 256, 8)
    for name, preset, under in (("hevc", "ultrafast", 2), ("vvc", "faster", 6)):
        codec = create_codec(name, {"preset": preset})
        ladder = codec.default_rate_points()
        assert len(ladder) >= 6 and ladder == sorted(ladder, key=lambda q: -int(q))
        sizes = [codec.encode(clip, qp, tmp_path / name).stat().st_size for qp in ladder]
        bpp = [8 * s / (clip.format.pixels * clip.frames) for s in sizes]
        assert bpp == sorted(bpp) and bpp[-1] > 10 * bpp[0], (name, bpp)
        assert sum(b < 0.05 for b in bpp) >= under, (name, bpp)


def test_rate_points_are_validated() -> None:
    hevc = create_codec("hevc")
    with pytest.raises(CodecbenchError, match="integer QP in 0..51"):
        hevc.check_rate_point("52")
    with pytest.raises(CodecbenchError, match="integer QP"):
        hevc.check_rate_point("high")
    create_codec("vvc").check_rate_point("63")
    rate = parse_rate_point("x", "bitrate", "0.01bpp", (0, 51))
    clip = Clip("c", Path("c.yuv"), VideoFormat(1920, 1080), 25.0, 10)
    assert rate.kbps(clip) == pytest.approx(0.01 * 1920 * 1080 * 25 / 1000)
    assert parse_rate_point("x", "bitrate", "250", (0, 51)).kbps(clip) == 250
    with pytest.raises(CodecbenchError, match="bits per pixel"):
        parse_rate_point("x", "bitrate", "-3", (0, 51))
    with pytest.raises(CodecbenchError, match="not one of"):
        create_codec("vvc", {"mode": "crf"})  # VVenC has no CRF mode
    assert create_codec("hevc", {"mode": "bitrate"}).default_rate_points()[0] == "0.003bpp"
    assert create_codec("hevc", {"mode": "crf"}).rate_parameter == "crf"


def test_bitrate_mode_follows_its_target(tmp_path: Path) -> None:
    """x265's one-pass ABR on one second of video lands within a factor 2 of the bits-per-pixel target."""
    clip = make_clip(tmp_path / "c.yuv", 128, 96, 24)
    codec = create_codec("hevc", {**FAST["hevc"], "mode": "bitrate"})
    targets = (0.05, 0.2)
    sizes = [codec.encode(clip, f"{t}bpp", tmp_path / str(t)).stat().st_size for t in targets]
    bpp = [8 * s / (clip.format.pixels * clip.frames) for s in sizes]
    assert bpp[0] < bpp[1], bpp
    assert all(t / 2 < b < 2 * t for t, b in zip(targets, bpp, strict=True)), bpp


def test_config_records_encoder_identity_and_arguments() -> None:
    hevc = create_codec("hevc")
    assert re.match(r"x265 \d+\.\d+\S*; ffmpeg version ", hevc.version)
    assert re.match(r"VVenC \d+\.\d+\S*; ffmpeg version ", create_codec("vvc").version)
    assert re.match(r"libaom v\d+\.\d+", create_codec("av1").version)
    cfg = hevc.config()
    assert cfg["preset"] == "veryslow" and cfg["config"] == "ld"
    assert "-tune zerolatency" in cfg["encoder_args"] and "qp={rate}" in cfg["encoder_args"]
    assert "bframes=0" in cfg["encoder_args"] and "info=0" in cfg["encoder_args"]
    ra = create_codec("vvc", {"config": "ra", "params": "MaxParallelFrames=1"}).config()
    assert "GOPSize=32" in ra["encoder_args"] and ra["encoder_args"].endswith("MaxParallelFrames=1'")
    assert create_codec("vvc", {"config": "ra"}).intra_period(24.0) == 32
    assert create_codec("hevc", {"config": "ra"}).intra_period(30.0) == 32
    assert create_codec("hevc").intra_period(30.0) == -1
    assert create_codec("hevc", {"intra_period": 16}).intra_period(30.0) == 16
    with pytest.raises(CodecbenchError, match="intra_period"):
        create_codec("vvc", {"intra_period": -4})
    av1 = create_codec("av1").config()["encoder_args"]
    assert "-qmin '{rate}' -qmax '{rate}'" in av1 and "-lag-in-frames 0" in av1


def test_encoder_failure_carries_the_encoder_stderr(clip8: Clip, tmp_path: Path) -> None:
    codec = create_codec("vvc", {**FAST["vvc"], "params": "GOPSize=1"})  # invalid for low delay
    with pytest.raises(ToolError, match="(?i)gop"):
        codec.encode(clip8, "32", tmp_path)


def _fake_ffmpeg(tmp_path: Path, encode_body: str, listing_filter: str = "cat") -> Path:
    """An ffmpeg stand-in: listings come from the real ffmpeg (through a filter), encodes run the body."""
    real = ffmpeg.ffmpeg_exe()
    script = tmp_path / "fake-ffmpeg"
    script.write_text(
        "#!/bin/sh\n"
        'case "$*" in\n'
        f'  *-encoders*|*-decoders*|*-muxers*|*-demuxers*|*-version*) "{real}" "$@" | {listing_filter} ;;\n'
        f"  *) {encode_body} ;;\n"
        "esac\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def test_empty_stream_is_a_tool_error_with_the_stderr_tail(clip8: Clip, tmp_path: Path) -> None:
    fake = _fake_ffmpeg(tmp_path, "echo 'x265 [error]: out of luck' >&2; exit 0")
    codec = create_codec("hevc", {"ffmpeg": str(fake)})
    assert codec.available()
    with pytest.raises(ToolError, match="empty stream.*out of luck"):
        codec.encode(clip8, "30", tmp_path / "w")


def test_other_ffmpeg_without_the_encoder_is_unavailable(tmp_path: Path, monkeypatch) -> None:
    fake = _fake_ffmpeg(tmp_path, "exit 1", "grep -v libvvenc")
    monkeypatch.setenv(ffmpeg.ENV_VAR, str(fake))
    vvc = create_codec("vvc")
    availability = vvc.available()
    assert (
        not availability and "libvvenc" in availability.reason and "built without it" in availability.reason
    )
    assert create_codec("hevc").available()
    monkeypatch.setenv(ffmpeg.ENV_VAR, str(tmp_path / "no-such-ffmpeg"))
    assert "not an executable" in create_codec("hevc").available().reason
    with pytest.raises(CodecbenchError, match="unavailable"):
        create_codec("hevc").encode(
            Clip("c", tmp_path / "c.yuv", VideoFormat(64, 64), 24.0, 1), "30", tmp_path
        )


def test_corrupt_or_missing_bitstream_is_a_bitstream_error(clip8: Clip, tmp_path: Path) -> None:
    codec = create_codec("hevc", FAST["hevc"])
    with pytest.raises(BitstreamError, match="no bitstream"):
        codec.decode(tmp_path / "missing.hevc", tmp_path)
    junk = tmp_path / "junk.hevc"
    junk.write_bytes(b"\x00\x00\x01" + bytes(range(256)) * 4)
    with pytest.raises(BitstreamError):
        list(codec.decode(junk, tmp_path))


def test_y4m_header_parsing() -> None:
    assert parse_header(b"YUV4MPEG2 W66 H50 F25:1 Ip A1:1 C420p10 XYSCSS=420P10\n") == VideoFormat(66, 50, 10)
    assert parse_header(b"YUV4MPEG2 W64 H48 F25:1\n") == VideoFormat(64, 48, 8)
    with pytest.raises(BitstreamError, match="4:2:0"):
        parse_header(b"YUV4MPEG2 W64 H48 C444\n")
    with pytest.raises(BitstreamError, match="YUV4MPEG2"):
        parse_header(b"RIFF....\n")


def test_random_access_is_labelled_apart_from_low_delay():
    from codecbench import registry

    for name in ("hevc", "vvc", "av1", "hm", "vtm"):
        assert registry.create_codec(name, {}).label == name
        assert registry.create_codec(name, {"config": "ra"}).label == f"{name}[ra]"
