"""VMAF (``vmaf``) and VMAF NEG (``vmaf_neg``) through the libvmaf filter of the bundled ffmpeg.

The static ffmpeg build embeds its models, chosen with ``model=version=vmaf_v0.6.1`` (or
``vmaf_v0.6.1neg``, the "no enhancement gain" variant that does not reward sharpening); no model
file is needed. libvmaf runs on ``n_threads`` threads (default: the job's thread budget, :mod:`codecbench.threads`).

ffmpeg's two-input filters repeat the last frame of the shorter input, and a clip may use fewer
frames than its file holds, so both inputs are trimmed to exactly the clip's frame count before
libvmaf sees them. Per-frame scores come from libvmaf's JSON log; the sequence value is their
mean, which is libvmaf's own default pooling ("pooled_metrics" mean).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import ClassVar

import numpy as np

from codecbench import ffmpeg
from codecbench.errors import CodecbenchError, InputFormatError, ToolError
from codecbench.metrics.base import Metric
from codecbench.options import Option
from codecbench.requirements import Requirement
from codecbench.threads import job_threads
from codecbench.video import Clip


def vmaf_filtergraph(frames: int, model: str, log_path: Path, n_threads: int) -> str:
    """The filtergraph: input 0 is the distorted clip, input 1 the reference (libvmaf's order)."""
    trim = f"trim=end_frame={frames},setpts=PTS-STARTPTS"
    log = str(log_path).replace("\\", "/").replace(":", r"\:")
    return (
        f"[0:v]{trim}[dist];[1:v]{trim}[ref];"
        f"[dist][ref]libvmaf=model=version={model}:n_threads={n_threads}:log_fmt=json:log_path={log}"
    )


def run_libvmaf(ref: Clip, dist: Clip, model: str, n_threads: int = 0, exe: str | None = None) -> np.ndarray:
    """Per-frame VMAF of ``dist`` against ``ref`` with libvmaf's built-in ``model``."""
    if ref.format != dist.format:
        raise InputFormatError(f"VMAF needs clips of one format, got {ref.format} and {dist.format}")
    if dist.frames != ref.frames:
        raise InputFormatError(f"decoded clip has {dist.frames} frames, the reference {ref.frames}")
    fmt = ref.format
    with tempfile.TemporaryDirectory(prefix="codecbench-vmaf-") as tmp:
        log_path = Path(tmp) / "vmaf.json"
        threads = n_threads or job_threads()
        graph = vmaf_filtergraph(ref.frames, model, log_path, threads)
        args = [
            *ffmpeg.rawvideo_input(dist.path, fmt.pix_fmt, fmt.width, fmt.height, ref.fps),
            *ffmpeg.rawvideo_input(ref.path, fmt.pix_fmt, fmt.width, fmt.height, ref.fps),
            "-filter_threads",
            str(threads),
            "-filter_complex",
            graph,
            "-f",
            "null",
            "-",
        ]
        ffmpeg.run(args, exe=exe, what="ffmpeg libvmaf")
        log = json.loads(log_path.read_text())
    scores = np.asarray([fr["metrics"]["vmaf"] for fr in log["frames"]], dtype=np.float64)
    if scores.size != ref.frames:
        raise ToolError(f"libvmaf scored {scores.size} frames, expected {ref.frames}")
    return scores


class VMAF(Metric):
    name = "vmaf"
    display_name = "VMAF"
    display_order = 30
    value_range = (0.0, 100.0)
    description = "VMAF (model vmaf_v0.6.1) from ffmpeg's libvmaf filter, mean over frames"
    unit = ""
    model: ClassVar[str] = "vmaf_v0.6.1"
    options_spec = {
        "n_threads": Option(0, "libvmaf threads (0: the job's thread budget)", int),
        "ffmpeg": Option("", "ffmpeg binary to use (default: $CODECBENCH_FFMPEG or imageio-ffmpeg's)"),
    }

    def _exe(self) -> str:
        return ffmpeg.ffmpeg_exe(self.options["ffmpeg"] or None)

    def requirements(self) -> list[Requirement]:
        try:
            exe = self._exe()
            ok = ffmpeg.has_filter("libvmaf", exe)
            detail = exe if ok else f"{exe} was built without libvmaf"
        except CodecbenchError as e:
            ok, detail = False, str(e)
        return [Requirement("binary", "ffmpeg with libvmaf", ok, detail)]

    def evaluate(self, ref: Clip, dist: Clip) -> np.ndarray:
        return run_libvmaf(ref, dist, self.model, self.options["n_threads"], self._exe())


class VMAFNEG(VMAF):
    name = "vmaf_neg"
    display_name = "VMAF NEG"
    display_order = None  # not VMAF's place: listed by name after the others
    description = "VMAF NEG (model vmaf_v0.6.1neg, no enhancement gain) from libvmaf, mean over frames"
    model = "vmaf_v0.6.1neg"
