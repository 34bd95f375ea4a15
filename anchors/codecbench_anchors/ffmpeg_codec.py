"""The shared base of the anchors that run an encoder library inside ffmpeg (x265, VVenC, libaom).

A subclass names its ffmpeg encoder, decoders and raw elementary-stream format, its QP range and
default ladders, and turns (configuration, preset, rate) into encoder arguments in :meth:`codec_args`.
This class does the rest: option handling, requirements, version probing, running the encoder on the
clip's raw YUV, checking the stream, and decoding it through a Y4M pipe so that the picture format
comes from the bitstream alone.
"""

from __future__ import annotations

import functools
import logging
import re
import shlex
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from codecbench import (
    BitstreamError,
    Clip,
    Codec,
    CodecbenchError,
    CodecUnavailableError,
    Frame,
    Option,
    Requirement,
    ToolError,
    UnsupportedInputError,
    VideoFormat,
    ffmpeg,
    job_threads,
    slug,
)
from codecbench_anchors.rates import BPP_LADDER, RATE_PARAMETERS, RatePoint, parse_rate_point
from codecbench_anchors.y4m import read_y4m

log = logging.getLogger("codecbench.anchors")

CONFIGS = ("ld", "ra")
#: The intra period meaning "only the first frame is intra".
FIRST_ONLY = -1


def common_options(
    preset: str, presets: tuple[str, ...], modes: tuple[str, ...], params_help: str
) -> dict[str, Option]:
    """The options every ffmpeg anchor takes; ``preset`` is the codec's default preset."""
    return {
        "config": Option(
            "ld",
            "ld: low delay, no picture reordering, intra only at the start (or every intra_period); "
            "ra: random access, hierarchical B GOP, intra period about one second",
            str,
            CONFIGS,
        ),
        "preset": Option(preset, "encoder speed preset", str, presets),
        "mode": Option("qp", "rate control: constant QP, CRF, or a target bitrate", str, modes),
        "intra_period": Option(
            0, "frames between intra pictures; 0: the config's default; -1: only the first frame", int
        ),
        "params": Option("", f"extra {params_help} (key=value:key=value), appended last", str),
        "ffmpeg": Option(None, f"ffmpeg binary to use (default: ${ffmpeg.ENV_VAR}, then imageio-ffmpeg's)"),
    }


@functools.cache
def _formats(exe: str, flag: str) -> frozenset[str]:
    """Names of the muxers (``-muxers``) or demuxers (``-demuxers``) of an ffmpeg binary."""
    try:
        out = subprocess.run([exe, "-hide_banner", flag], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise CodecUnavailableError(f"ffmpeg {exe} cannot run: {e}") from e
    names: set[str] = set()
    for line in out.stdout.splitlines():
        tokens = line.split()
        if len(tokens) >= 2 and set(tokens[0]) <= set("DEd"):
            names.update((tokens[2] if tokens[1] == "d" and len(tokens) > 2 else tokens[1]).split(","))
    return frozenset(names)


@functools.cache
def probe_encoder_log(exe: str, encoder: str, pix_fmt: str) -> str:
    """The verbose log of a 2-frame 64x64 encode, from which encoder version strings are read."""
    args = ["-v", "verbose", "-f", "lavfi", "-i", "testsrc2=size=64x64:rate=25", "-frames:v", "2"]
    args += ["-pix_fmt", pix_fmt, "-c:v", encoder, "-f", "null", "-"]
    try:
        proc = ffmpeg.run(args, exe=exe, what=f"{encoder} version probe", timeout=120)
    except CodecbenchError as e:
        return str(e)
    return proc.stderr.decode(errors="replace")


def check_intra_period(owner: str, period: int) -> None:
    """Refuse intra periods other than N > 0, 0 (the config's default) and -1 (first frame only)."""
    if period < FIRST_ONLY:
        raise CodecbenchError(f"{owner}.intra_period must be > 0, 0 (default) or -1, got {period}")


def resolve_intra_period(options: Mapping[str, Any], fps: float, ra_gop: int) -> int:
    """The ``intra_period`` option made concrete: ld defaults to one intra picture, ra to ~1 second."""
    period = options["intra_period"]
    if period != 0:
        return period
    if options["config"] == "ld":
        return FIRST_ONLY
    return max(ra_gop, round(fps / ra_gop) * ra_gop)


def config_label(name: str, config: str) -> str:
    """An anchor's label: its name for low delay (the default), ``name[ra]`` for random access.

    The two configurations are different operating points, so results, reports and the
    leaderboard must never show them under one name.
    """
    return name if config == "ld" else f"{name}[{config}]"


class FFmpegCodec(Codec):
    """A codec that encodes and decodes with ffmpeg and writes a raw elementary stream."""

    rate_parameter = "qp"
    #: ffmpeg encoder name (``-c:v``).
    encoder: ClassVar[str]
    #: ffmpeg decoder names, the first one present is used.
    decoders: ClassVar[tuple[str, ...]]
    #: ffmpeg muxer and demuxer of the raw elementary stream.
    raw_format: ClassVar[str]
    #: Pixel format fed to the encoder for each source bit depth (a conversion must be exact).
    encoder_pix_fmts: ClassVar[Mapping[int, str]] = {8: "yuv420p", 10: "yuv420p10le"}
    #: Allowed QP (and CRF) values.
    qp_range: ClassVar[tuple[int, int]] = (0, 51)
    #: Default constant-QP ladder, highest QP (lowest rate) first.
    qp_ladder: ClassVar[tuple[int, ...]] = ()
    #: Default CRF ladder, lowest rate first.
    crf_ladder: ClassVar[tuple[float, ...]] = ()
    #: The random-access intra period is the multiple of this GOP length nearest to one second.
    ra_gop: ClassVar[int] = 8
    #: Regex on the verbose encoder log whose group 1 is the encoder's version.
    version_pattern: ClassVar[str] = r"$^"
    #: Library name put before the version.
    library: ClassVar[str] = ""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        check_intra_period(self.name, self.options["intra_period"])
        self.rate_parameter = RATE_PARAMETERS[self.options["mode"]]
        self.last_command: list[str] = []

    @property
    def label(self) -> str:
        return config_label(self.name, self.options["config"])

    def encode_details(self) -> dict[str, Any]:
        """The exact encoder command of the last encode, kept in the job's record."""
        return {"command": shlex.join(self.last_command)} if self.last_command else {}

    # -- environment -----------------------------------------------------------------------------

    @property
    def exe(self) -> str:
        """The ffmpeg binary (option ``ffmpeg``, then ``$CODECBENCH_FFMPEG``, then imageio-ffmpeg's)."""
        return ffmpeg.ffmpeg_exe(self.options["ffmpeg"])

    def _decoder(self, exe: str) -> str | None:
        return next((d for d in self.decoders if ffmpeg.has_decoder(d, exe)), None)

    def requirements(self) -> list[Requirement]:
        try:
            exe = self.exe
            reqs = [Requirement("binary", "ffmpeg", True, exe)]
            has_enc = ffmpeg.has_encoder(self.encoder, exe)
            decoder = self._decoder(exe)
            muxers, demuxers = _formats(exe, "-muxers"), _formats(exe, "-demuxers")
        except CodecUnavailableError as e:
            return [Requirement("binary", "ffmpeg", False, str(e))]
        where = f"in {exe}" if has_enc else f"{exe} was built without it"
        reqs.append(Requirement("ffmpeg encoder", self.encoder, has_enc, where))
        names = " or ".join(self.decoders)
        reqs.append(
            Requirement("ffmpeg decoder", names, decoder is not None, decoder or f"{exe} has none of {names}")
        )
        for kind, table in (("ffmpeg muxer", muxers), ("ffmpeg demuxer", demuxers)):
            ok = self.raw_format in table
            reqs.append(Requirement(kind, self.raw_format, ok, "" if ok else f"{exe} lacks it"))
        return reqs

    def _require(self) -> str:
        availability = self.available()
        if not availability:
            raise CodecUnavailableError(f"{self.name} is unavailable: {availability.reason}")
        return self.exe

    @property
    def version(self) -> str:
        """Encoder library version and the ffmpeg build, e.g. ``x265 4.3+49; ffmpeg version n9.0.2``."""
        try:
            exe = self.exe
            log_text = probe_encoder_log(exe, self.encoder, self.encoder_pix_fmts[8])
            ffmpeg_version = ffmpeg.version(exe).split(" Copyright")[0]
        except CodecbenchError as e:
            return f"{self.library} (unknown version: {e})"
        found = re.search(self.version_pattern, log_text, re.MULTILINE)
        lib = f"{self.library} {found.group(1)}" if found else f"{self.library} (version not reported)"
        return f"{lib}; {ffmpeg_version}"

    # -- configuration ---------------------------------------------------------------------------

    def intra_period(self, fps: float) -> int:
        """Frames between intra pictures for a clip at ``fps``; :data:`FIRST_ONLY` for one intra."""
        return resolve_intra_period(self.options, fps, self.ra_gop)

    def codec_args(self, rate: str, intra_period: str, bit_depth: str) -> list[str]:
        """Encoder arguments (after ``-c:v``) for a formatted rate, intra period and source bit depth."""
        raise NotImplementedError

    def format_rate(self, rate: RatePoint, clip: Clip) -> str:
        """The rate value as the encoder takes it: QP or CRF, or the target in kbit/s."""
        if rate.mode == "bitrate":
            return f"{rate.kbps(clip):.3f}".rstrip("0").rstrip(".")
        return f"{rate.value:g}"

    def config(self) -> dict[str, Any]:
        """Options plus the encoder, decoder and argument template used for every job."""
        out = dict(self.options)
        out.update(
            encoder=self.encoder,
            decoders=list(self.decoders),
            stream_format=self.raw_format,
            encoder_args=shlex.join(self.codec_args("{rate}", "{intra_period}", "{bit_depth}")),
            intra_period_rule=(
                f"{self.options['intra_period']} frames"
                if self.options["intra_period"] > 0
                else "only the first frame"
                if self.options["config"] == "ld" or self.options["intra_period"] == FIRST_ONLY
                else f"multiple of {self.ra_gop} frames nearest the frame rate"
            ),
        )
        return out

    def default_rate_points(self) -> list[str]:
        mode = self.options["mode"]
        if mode == "qp":
            return [str(q) for q in self.qp_ladder]
        if mode == "crf":
            return [f"{c:g}" for c in self.crf_ladder]
        return list(BPP_LADDER)

    def parse_rate(self, rate_point: str) -> RatePoint:
        return parse_rate_point(self.name, self.options["mode"], rate_point, self.qp_range)

    def check_rate_point(self, rate_point: str) -> None:
        self.parse_rate(rate_point)

    def check_format(self, fmt: VideoFormat) -> None:
        super().check_format(fmt)
        if fmt.bit_depth not in self.encoder_pix_fmts:
            raise UnsupportedInputError(f"{self.name} takes {sorted(self.encoder_pix_fmts)}-bit video")

    # -- encode and decode -----------------------------------------------------------------------

    def encode_command(self, clip: Clip, rate_point: str, out: Path) -> list[str]:
        """The ffmpeg arguments (after the binary) that encode ``clip`` into the raw stream ``out``."""
        rate = self.parse_rate(rate_point)
        fmt = clip.format
        args = ffmpeg.rawvideo_input(Path(clip.path), fmt.pix_fmt, fmt.width, fmt.height, clip.fps)
        args += ["-map", "0:v:0", "-frames:v", str(clip.frames), "-fps_mode", "passthrough", "-an"]
        args += ["-pix_fmt", self.encoder_pix_fmts[fmt.bit_depth], "-c:v", self.encoder]
        period = self.intra_period(clip.fps)
        args += self.codec_args(self.format_rate(rate, clip), str(period), str(fmt.bit_depth))
        args = self.with_threads(args, job_threads())
        return [*args, "-f", self.raw_format, str(out)]

    def with_threads(self, args: list[str], threads: int) -> list[str]:
        """Encoder arguments holding the encoder to ``threads``; no anchor's bitstream depends on them."""
        return [*args, "-threads", str(threads)]

    def encode(self, clip: Clip, rate_point: str, workdir: Path) -> Path:
        self.check_format(clip.format)
        exe = self._require()
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        out = workdir / f"{slug(clip.name)}.{self.name}.{slug(rate_point)}{self.bitstream_suffix}"
        args = self.encode_command(clip, rate_point, out)
        self.last_command = [exe, *args]
        log.info("%s: %s", self.name, shlex.join(self.last_command))
        out.unlink(missing_ok=True)
        proc = ffmpeg.run(args, exe=exe, what=f"{self.name} encoder ({self.encoder})")
        if not out.exists() or out.stat().st_size == 0:
            err = ffmpeg.tail(proc.stderr.decode(errors="replace"))
            raise ToolError(
                f"{self.name}: the encoder wrote an empty stream: {err}\ncommand: {shlex.join(args)}"
            )
        return out

    def decode_command(self, bitstream: Path, exe: str, decoder: str) -> list[str]:
        """ffmpeg command decoding the raw stream to Y4M on stdout, frames neither dropped nor doubled."""
        return [
            exe, "-hide_banner", "-nostdin", "-loglevel", "error", "-xerror",
            "-threads", str(job_threads()), "-c:v", decoder, "-f", self.raw_format, "-i", str(bitstream),
            "-map", "0:v:0", "-fps_mode", "passthrough", "-strict", "-1", "-f", "yuv4mpegpipe", "-",
        ]  # fmt: skip

    def decode(self, bitstream: Path, workdir: Path) -> Iterator[Frame]:
        bitstream, workdir = Path(bitstream), Path(workdir)
        if not bitstream.is_file() or bitstream.stat().st_size == 0:
            raise BitstreamError(f"{self.name}: no bitstream at {bitstream} (missing or empty)")
        exe = self._require()
        decoder = self._decoder(exe)
        workdir.mkdir(parents=True, exist_ok=True)
        return self._decode_frames(
            self.decode_command(bitstream, exe, decoder or ""), workdir / f"{bitstream.name}.decode.log"
        )

    def _decode_frames(self, cmd: list[str], log_path: Path) -> Iterator[Frame]:
        with open(log_path, "w+b") as err:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err)
            assert proc.stdout is not None
            count, finished = 0, False
            try:
                for _, frame in read_y4m(proc.stdout):
                    yield frame
                    count += 1
                finished = True
            finally:
                if not finished:
                    proc.kill()
                proc.stdout.close()
                rc = proc.wait()
            err.seek(0)
            text = ffmpeg.tail(err.read().decode(errors="replace"))
        if rc != 0 or count == 0:
            raise BitstreamError(
                f"{self.name}: decoding failed (exit {rc}, {count} frames): {text}\n"
                f"command: {shlex.join(cmd)}"
            )
