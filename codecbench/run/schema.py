"""Column names of the tidy tables a run writes; reports, BD and the leaderboard read these.

``results.csv``: one row per codec x sequence x rate point, with one extra column per metric
(named by the metric's registry name, e.g. ``psnr_y``), holding the sequence value.

``frames.csv``: one row per codec x sequence x rate point x frame x metric (per-frame values).

``dataset_metrics.csv``: one row per codec x dataset x rate point x distribution metric (FID, KID),
with the dataset's mean bpp.
"""

from __future__ import annotations

RESULT_COLUMNS = [
    "codec",  # label, e.g. "hevc" or "divinr[tiny]"
    "codec_plugin",  # entry-point name used to rebuild the codec, e.g. "divinr"
    "codec_version",
    "codec_config",  # JSON of every setting that determines the bitstream
    "dataset",
    "sequence",
    "rate_point",
    "rate_parameter",
    "width",
    "height",
    "bit_depth",
    "fps",
    "frames",
    "bytes",
    "bpp",
    "kbps",
    "encode_seconds",
    "decode_seconds",
    "bitstream_path",  # relative to the run folder
    "bitstream_sha256",
    "decoded_sha256",
    "snapshot_path",  # PNG of the decoded middle frame, relative to the run folder
    "status",  # "ok" or "failed"
    "error",
    "job_id",
    "finished_at",
]

FRAME_COLUMNS = ["codec", "dataset", "sequence", "rate_point", "frame", "metric", "value"]

DATASET_METRIC_COLUMNS = ["codec", "dataset", "rate_point", "metric", "value", "bpp", "sequences"]
