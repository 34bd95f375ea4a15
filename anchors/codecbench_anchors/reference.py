"""HM and VTM, the HEVC and VVC reference software, when the user points to their binaries.

Give the checkout (``root=`` or ``$CODECBENCH_HM_ROOT`` / ``$CODECBENCH_VTM_ROOT``, holding ``bin/`` and
``cfg/``) or each file (``encoder=``, ``decoder=``, ``cfg=``, or ``$CODECBENCH_HM_ENCODER``, ...).
Without them the codec is reported unavailable, naming what it looked for. The bitstream is the
encoder's raw Annex-B output; the decoder writes raw YUV at the coded bit depth, whose size and bit
depth are read from the bitstream's headers through ffmpeg's parser (no side information).
"""

from __future__ import annotations

import functools
import io
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from codecbench import (
    BitstreamError,
    Clip,
    Codec,
    CodecUnavailableError,
    Frame,
    Option,
    Requirement,
    ToolError,
    VideoFormat,
    ffmpeg,
    read_yuv,
    slug,
)
from codecbench_anchors.ffmpeg_codec import (
    CONFIGS,
    check_intra_period,
    config_label,
    resolve_intra_period,
)
from codecbench_anchors.rates import parse_rate_point
from codecbench_anchors.y4m import read_y4m


@functools.cache
def _help_text(binary: str) -> str:
    try:
        out = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)
    return out.stdout + out.stderr


class ReferenceCodec(Codec):
    """A reference encoder/decoder pair driven by a cfg file and command-line overrides."""

    rate_parameter = "qp"
    #: HM and VTM encode on one thread.
    single_threaded = True
    #: Prefix of the environment variables: ``{prefix}_ROOT``, ``_ENCODER``, ``_DECODER``, ``_CFG``.
    env_prefix: ClassVar[str]
    encoder_names: ClassVar[tuple[str, ...]]
    decoder_names: ClassVar[tuple[str, ...]]
    #: cfg file name in ``root/cfg`` for (config, bit depth).
    cfg_names: ClassVar[Mapping[tuple[str, int], str]]
    #: Raw stream format ffmpeg parses to learn the decoded picture format.
    stream_format: ClassVar[str]
    qp_range: ClassVar[tuple[int, int]] = (0, 51)
    qp_ladder: ClassVar[tuple[int, ...]] = ()
    ra_gop: ClassVar[int] = 16
    software: ClassVar[str]

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        check_intra_period(self.name, self.options["intra_period"])

    @classmethod
    def _options(cls, prefix: str) -> dict[str, Option]:
        return {
            "root": Option(None, f"checkout holding bin/ and cfg/ (or ${prefix}_ROOT)"),
            "encoder": Option(None, f"encoder binary (or ${prefix}_ENCODER)"),
            "decoder": Option(None, f"decoder binary (or ${prefix}_DECODER)"),
            "cfg": Option(None, f"encoder cfg file (or ${prefix}_CFG; default from root/cfg by config)"),
            "config": Option("ld", "ld: low delay P cfg; ra: random access cfg", str, CONFIGS),
            "intra_period": Option(
                0, "frames; 0: config default (ld: first only, ra: ~1 s); -1: first only", int
            ),
            "params": Option("", "extra encoder arguments, e.g. '--SEIDecodedPictureHash=1'"),
            "ffmpeg": Option(None, "ffmpeg used to read the decoded picture format from the stream"),
        }

    # -- locating the software -------------------------------------------------------------------

    def _setting(self, key: str) -> str | None:
        return self.options[key] or os.environ.get(f"{self.env_prefix}_{key.upper()}") or None

    def _binary(self, key: str, names: tuple[str, ...]) -> tuple[str | None, str]:
        """(path or None, what was looked for)."""
        given = self._setting(key)
        if given:
            found = shutil.which(given)
            return found, f"{given!r} is not an executable file" if not found else found
        root = self._setting("root")
        if not root:
            return None, (
                f"set {self.name}.{key}=PATH or ${self.env_prefix}_{key.upper()}, "
                f"or {self.name}.root / ${self.env_prefix}_ROOT to a checkout with bin/{names[0]}"
            )
        for n in names:
            candidate = Path(root) / "bin" / n
            if os.access(candidate, os.X_OK) and candidate.is_file():
                return str(candidate), str(candidate)
        return None, f"none of {', '.join(names)} in {Path(root) / 'bin'}"

    def cfg_file(self, bit_depth: int = 8) -> tuple[str | None, str]:
        """(cfg path or None, what was looked for) for the configured GOP structure."""
        given = self._setting("cfg")
        if given:
            return (given, given) if Path(given).is_file() else (None, f"cfg {given!r} does not exist")
        root = self._setting("root")
        name = self.cfg_names[(self.options["config"], bit_depth)]
        if not root:
            return None, f"set {self.name}.cfg or ${self.env_prefix}_CFG, or a root holding cfg/{name}"
        path = Path(root) / "cfg" / name
        return (str(path), str(path)) if path.is_file() else (None, f"no {path}")

    def requirements(self) -> list[Requirement]:
        enc, enc_detail = self._binary("encoder", self.encoder_names)
        dec, dec_detail = self._binary("decoder", self.decoder_names)
        cfg, cfg_detail = self.cfg_file()
        reqs = [
            Requirement("binary", f"{self.software} encoder", enc is not None, enc_detail),
            Requirement("binary", f"{self.software} decoder", dec is not None, dec_detail),
            Requirement("file", f"{self.software} cfg", cfg is not None, cfg_detail),
        ]
        try:
            exe = ffmpeg.ffmpeg_exe(self.options["ffmpeg"])
            ok = ffmpeg.has_decoder(self.stream_format, exe)
            reqs.append(Requirement("ffmpeg decoder", self.stream_format, ok, exe))
        except CodecUnavailableError as e:
            reqs.append(Requirement("binary", "ffmpeg", False, str(e)))
        return reqs

    def _require(self) -> None:
        availability = self.available()
        if not availability:
            raise CodecUnavailableError(f"{self.name} is unavailable: {availability.reason}")

    @property
    def label(self) -> str:
        return config_label(self.name, self.options["config"])

    @property
    def version(self) -> str:
        enc, _ = self._binary("encoder", self.encoder_names)
        if not enc:
            return f"{self.software} (not installed)"
        found = re.search(r"Version \[?([0-9][^\s\]]*)", _help_text(enc))
        return f"{self.software} {found.group(1) if found else '(version not reported)'} ({enc})"

    def config(self) -> dict[str, Any]:
        out = dict(self.options)
        out["cfg_file"] = self.cfg_file()[0]
        return out

    # -- rate points and commands ----------------------------------------------------------------

    def default_rate_points(self) -> list[str]:
        return [str(q) for q in self.qp_ladder]

    def check_rate_point(self, rate_point: str) -> None:
        parse_rate_point(self.name, "qp", rate_point, self.qp_range)

    def intra_period(self, fps: float) -> int:
        """Frames between intra pictures (-1: only the first), as in the ffmpeg anchors."""
        return resolve_intra_period(self.options, fps, self.ra_gop)

    def encode_command(self, clip: Clip, rate_point: str, out: Path, encoder: str, cfg: str) -> list[str]:
        """The reference encoder's command line: the cfg, then the clip's geometry and the QP."""
        self.check_rate_point(rate_point)
        fmt, depth = clip.format, str(clip.format.bit_depth)
        cmd = [encoder, "-c", cfg, "-i", str(clip.path), "-b", str(out)]
        cmd += ["-wdt", str(fmt.width), "-hgt", str(fmt.height), "-fr", str(round(clip.fps))]
        cmd += ["-f", str(clip.frames), "-q", str(int(rate_point))]
        cmd += [f"--InputBitDepth={depth}", f"--InternalBitDepth={depth}", f"--OutputBitDepth={depth}"]
        cmd += ["--InputChromaFormat=420", "--ConformanceWindowMode=1"]
        cmd += [f"--IntraPeriod={self.intra_period(clip.fps)}"]
        return cmd + shlex.split(self.options["params"])

    def decode_command(self, bitstream: Path, out: Path, decoder: str) -> list[str]:
        """The reference decoder writing raw YUV at the coded bit depth (``-d 0``)."""
        return [decoder, "-b", str(bitstream), "-o", str(out), "-d", "0"]

    @staticmethod
    def _run(cmd: list[str], what: str) -> None:
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True)
        except OSError as e:
            raise ToolError(f"{what} cannot run: {e}\ncommand: {shlex.join(cmd)}") from e
        if proc.returncode != 0:
            raise ToolError(
                f"{what} failed (exit {proc.returncode}): {ffmpeg.tail(proc.stdout + proc.stderr)}\n"
                f"command: {shlex.join(cmd)}"
            )

    def encode(self, clip: Clip, rate_point: str, workdir: Path) -> Path:
        self.check_format(clip.format)
        self._require()
        encoder, _ = self._binary("encoder", self.encoder_names)
        cfg, detail = self.cfg_file(clip.format.bit_depth)
        if not (encoder and cfg):
            raise CodecUnavailableError(f"{self.name}: {detail}")
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        out = workdir / f"{slug(clip.name)}.{self.name}.{slug(rate_point)}{self.bitstream_suffix}"
        out.unlink(missing_ok=True)
        self._run(self.encode_command(clip, rate_point, out, encoder, cfg), f"{self.software} encoder")
        if not out.is_file() or out.stat().st_size == 0:
            raise ToolError(f"{self.name}: the encoder wrote no bitstream at {out}")
        return out

    def stream_format_of(self, bitstream: Path) -> VideoFormat:
        """Size and bit depth of the decoded pictures, from the stream's parameter sets via ffmpeg."""
        exe = ffmpeg.ffmpeg_exe(self.options["ffmpeg"])
        cmd = ["-loglevel", "error", "-f", self.stream_format, "-i", str(bitstream), "-frames:v", "1"]
        proc = ffmpeg.run([*cmd, "-strict", "-1", "-f", "yuv4mpegpipe", "-"], exe=exe, what="stream probe")
        for fmt, _ in read_y4m(io.BytesIO(proc.stdout)):
            return fmt
        raise BitstreamError(f"{self.name}: {bitstream} holds no decodable picture")

    def decode(self, bitstream: Path, workdir: Path) -> Iterator[Frame]:
        bitstream, workdir = Path(bitstream), Path(workdir)
        if not bitstream.is_file() or bitstream.stat().st_size == 0:
            raise BitstreamError(f"{self.name}: no bitstream at {bitstream} (missing or empty)")
        self._require()
        decoder, _ = self._binary("decoder", self.decoder_names)
        fmt = self.stream_format_of(bitstream)
        out = workdir / f"{bitstream.stem}.decoded.yuv"
        self._run(self.decode_command(bitstream, out, decoder or ""), f"{self.software} decoder")
        return read_yuv(out, fmt)


class HM(ReferenceCodec):
    name = "hm"
    description = "HEVC reference software HM (TAppEncoder/TAppDecoder) with the CTC cfg files"
    bitstream_suffix = ".hevc"
    software = "HM"
    env_prefix = "CODECBENCH_HM"
    encoder_names = ("TAppEncoderStatic", "TAppEncoder")
    decoder_names = ("TAppDecoderStatic", "TAppDecoder")
    cfg_names = {
        ("ld", 8): "encoder_lowdelay_P_main.cfg",
        ("ld", 10): "encoder_lowdelay_P_main10.cfg",
        ("ra", 8): "encoder_randomaccess_main.cfg",
        ("ra", 10): "encoder_randomaccess_main10.cfg",
    }
    stream_format = "hevc"
    qp_range = (0, 51)
    qp_ladder = (51, 48, 45, 42, 39, 36, 33, 30, 27)
    ra_gop = 16
    options_spec: ClassVar = ReferenceCodec._options("CODECBENCH_HM")


class VTM(ReferenceCodec):
    name = "vtm"
    description = "VVC reference software VTM (EncoderApp/DecoderApp) with the CTC cfg files"
    bitstream_suffix = ".vvc"
    software = "VTM"
    env_prefix = "CODECBENCH_VTM"
    encoder_names = ("EncoderAppStatic", "EncoderApp")
    decoder_names = ("DecoderAppStatic", "DecoderApp")
    cfg_names = {
        ("ld", 8): "encoder_lowdelay_P_vtm.cfg",
        ("ld", 10): "encoder_lowdelay_P_vtm.cfg",
        ("ra", 8): "encoder_randomaccess_vtm.cfg",
        ("ra", 10): "encoder_randomaccess_vtm.cfg",
    }
    stream_format = "vvc"
    qp_range = (0, 63)
    qp_ladder = (59, 55, 51, 47, 43, 39, 35, 31, 27)
    ra_gop = 32
    options_spec: ClassVar = ReferenceCodec._options("CODECBENCH_VTM")
