"""Encoding speed of the anchors per preset, through the harness and as the same ffmpeg command by hand.

For each codec and preset, the clip is encoded through ``Codec.encode`` (what ``codecbench run``
does) and by running the very same ffmpeg command line directly, alternately, ``--repeat`` times; the
fastest of each is reported and the difference is the harness's overhead. Decoding speed (through ``Codec.decode``, frames consumed as the runner does) is reported too.

    python bench/bench_anchors.py                         # small clip + 1080p lavfi clip
    python bench/bench_anchors.py --real /work/shared/data/Zhling_1280x720.264 --no-1080p
    python bench/bench_anchors.py --codecs hevc --presets hevc=ultrafast,veryslow --frames 8
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from codecbench import ffmpeg
from codecbench.registry import create_codec
from codecbench.video import Clip, VideoFormat, frame_count

DEFAULT_PRESETS = {
    "hevc": ("ultrafast", "medium", "veryslow"),
    "vvc": ("faster", "medium"),
    "av1": ("8", "4"),
}


def lavfi_clip(folder: Path, name: str, width: int, height: int, frames: int, source: str) -> Clip:
    """Render a lavfi source (testsrc2, mandelbrot, ...) to raw 8-bit 4:2:0."""
    path = folder / f"{name}.yuv"
    ffmpeg.run(["-f", "lavfi", "-i", f"{source}=size={width}x{height}:rate=25", "-frames:v", str(frames)]
               + ["-pix_fmt", "yuv420p", "-f", "rawvideo", str(path)])  # fmt: skip
    return Clip(name, path, VideoFormat(width, height), 25.0, frames)


def decoded_clip(folder: Path, source: Path, frames: int) -> Clip:
    """Decode a compressed real clip (e.g. the H.264 test clip) to raw 8-bit 4:2:0."""
    path = folder / f"{source.stem}.yuv"
    ffmpeg.run(
        ["-i", str(source), "-frames:v", str(frames), "-pix_fmt", "yuv420p", "-f", "rawvideo", str(path)]
    )
    probe = ffmpeg.run(["-i", str(source), "-frames:v", "1", "-f", "yuv4mpegpipe", "-"]).stdout
    fields = dict((f[:1].decode(), f[1:].decode()) for f in probe.split(b"\n", 1)[0].split()[1:])
    fmt = VideoFormat(int(fields["W"]), int(fields["H"]))
    return Clip(source.stem, path, fmt, 25.0, frame_count(path, fmt))


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench_one(codec_name: str, preset: str, clip: Clip, rate: str, work: Path, repeat: int) -> dict:
    """Best of ``repeat`` alternating runs of the harness encode and the same command by hand."""
    codec = create_codec(codec_name, {"preset": preset})
    codec.available()  # probe the binary once, as the runner does before its jobs
    bitstream = codec.encode(clip, rate, work / "harness")  # warm-up; also gives the command
    by_hand_cmd = [codec.last_command[0], "-hide_banner", "-nostdin", "-y", *codec.last_command[1:]]
    by_hand_cmd[-1] = str(work / f"by_hand{codec.bitstream_suffix}")
    harness, by_hand, decode = [], [], []
    for _ in range(repeat):
        harness.append(_timed(lambda: codec.encode(clip, rate, work / "harness")))
        by_hand.append(_timed(lambda: subprocess.run(by_hand_cmd, check=True, capture_output=True)))
        decode.append(_timed(lambda: sum(1 for _ in codec.decode(bitstream, work / "harness"))))
    assert Path(by_hand_cmd[-1]).read_bytes() == bitstream.read_bytes()  # truly the same command
    bpp = bitstream.stat().st_size * 8 / (clip.format.pixels * clip.frames)
    h, b = min(harness), min(by_hand)
    return {
        "clip": f"{clip.name} {clip.format.width}x{clip.format.height}x{clip.frames}",
        "codec": codec_name,
        "preset": preset,
        "rate": rate,
        "bpp": bpp,
        "harness_s": h,
        "by_hand_s": b,
        "harness_fps": clip.frames / h,
        "by_hand_fps": clip.frames / b,
        "overhead_s": h - b,
        "decode_fps": clip.frames / min(decode),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--codecs", default="hevc,vvc")
    parser.add_argument("--presets", action="append", default=[], help="CODEC=P1,P2 (repeatable)")
    parser.add_argument("--frames", type=int, default=16, help="frames of the small clip")
    parser.add_argument("--hd-frames", type=int, default=8, help="frames of the 1080p clip")
    parser.add_argument("--no-1080p", action="store_true")
    parser.add_argument("--real", type=Path, help="also a real clip (any file ffmpeg reads)")
    parser.add_argument("--rate", default="", help="rate point (default: the middle of each ladder)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the fastest is reported")
    args = parser.parse_args()
    presets = dict(DEFAULT_PRESETS)
    for item in args.presets:
        name, _, values = item.partition("=")
        presets[name] = tuple(values.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        clips = [lavfi_clip(folder, "testsrc2", 384, 256, args.frames, "testsrc2")]
        if not args.no_1080p:
            clips.append(lavfi_clip(folder, "testsrc2_1080p", 1920, 1080, args.hd_frames, "testsrc2"))
        if args.real:
            clips.append(decoded_clip(folder, args.real, args.frames))
        print(
            "| clip | codec | preset | QP | bpp | harness s (fps) | by hand s (fps) | overhead s | decode fps |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for clip in clips:
            for name in args.codecs.split(","):
                ladder = create_codec(name).default_rate_points()
                rate = args.rate or ladder[len(ladder) // 2]
                for preset in presets[name]:
                    r = bench_one(name, preset, clip, rate, folder / f"{name}-{preset}", args.repeat)
                    print(
                        f"| {r['clip']} | {name} | {preset} | {rate} | {r['bpp']:.4f} "
                        f"| {r['harness_s']:.2f} ({r['harness_fps']:.2f}) | {r['by_hand_s']:.2f} ({r['by_hand_fps']:.2f}) "
                        f"| {r['overhead_s']:+.3f} | {r['decode_fps']:.1f} |",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
