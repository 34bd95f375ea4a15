"""codecbench: an open benchmark for classical, learned and generative video codecs.

This module is the plugin contract: everything a codec, metric or dataset plugin may use is
importable from ``codecbench`` itself, and plugins import nothing else of the harness (a test
checks the built-in ones). It holds

* the plugin types: :class:`Codec`, :class:`Metric` and :class:`Dataset` (with its
  :class:`SequenceInfo` and :class:`Download`), and :class:`Option`, :class:`Requirement`,
  :class:`Availability`;
* the video types: :class:`VideoFormat`, :class:`Frame`, :class:`Clip`;
* the errors, whose message the command line prints without a traceback;
* raw-video helpers: :func:`read_yuv`, :func:`write_yuv`, :class:`YuvWriter`, :func:`frame_count`,
  :func:`yuv_to_rgb`, :func:`rgb_to_yuv`, :func:`sha256_file`, :func:`plane_psnr`;
* two public modules: :mod:`codecbench.ffmpeg` (finding and running the bundled ffmpeg:
  ``ffmpeg.ffmpeg_exe``, ``ffmpeg.run``, ``ffmpeg.version``, ``ffmpeg.has_encoder``, ...) and
  :mod:`codecbench.datasets` (named datasets and folders of YUV files as clips: ``resolve``,
  ``get_dataset``, ``datasets``), importable as ``from codecbench import ffmpeg, datasets`` or
  by their ``__all__`` names from the modules themselves;
* run-time helpers: :func:`job_threads` (the job's thread budget, for encoder options),
  :func:`choose_device` (a ``device`` option to a torch device), :func:`slug` (file-name-safe
  names) and :class:`Progress` (a progress line inside a job).
"""

from codecbench import datasets, ffmpeg
from codecbench.codec import Availability, Codec, Option, Requirement
from codecbench.datasets.base import Dataset, Download, SequenceInfo
from codecbench.device import choose_device
from codecbench.errors import (
    BitstreamError,
    CodecbenchError,
    CodecUnavailableError,
    InputFormatError,
    ToolError,
    UnknownNameError,
    UnsupportedInputError,
)
from codecbench.metrics.base import Metric
from codecbench.metrics.psnr import plane_psnr
from codecbench.progress import Progress
from codecbench.slugs import slug
from codecbench.threads import job_threads
from codecbench.version import __version__
from codecbench.video import Clip, Frame, VideoFormat, frame_count, read_yuv
from codecbench.yuv import YuvWriter, rgb_to_yuv, sha256_file, write_yuv, yuv_to_rgb

__all__ = [
    "Availability",
    "BitstreamError",
    "Clip",
    "Codec",
    "Dataset",
    "Download",
    "CodecUnavailableError",
    "CodecbenchError",
    "Frame",
    "InputFormatError",
    "Metric",
    "Option",
    "Progress",
    "Requirement",
    "SequenceInfo",
    "ToolError",
    "UnknownNameError",
    "UnsupportedInputError",
    "VideoFormat",
    "YuvWriter",
    "__version__",
    "choose_device",
    "datasets",
    "ffmpeg",
    "frame_count",
    "job_threads",
    "plane_psnr",
    "read_yuv",
    "rgb_to_yuv",
    "sha256_file",
    "slug",
    "write_yuv",
    "yuv_to_rgb",
]
