"""Ablation of DiV-INR's parts, measured by the harness on the same clips and rate points::

    python -m codecbench_divinr.ablation --out ablation [--dataset natural] [--rate-points xs,s,m,l]

Variants of the codec, each a ``codecbench run`` of ``divinr`` with codec options, so rates
come from the bitstream bytes and quality from decoding them, as for any codec:

* (a) ``inr-vae``: the INR fitted to the VAE latents alone, VAE-decoded; no diffusion
  (``divinr.diffusion=false``);
* (b) ``no-lora``: the INR-conditioned diffusion model without adapters (``divinr.shared=none``:
  every LoRA update is zero);
* (c) ``joint``: the full method, INR and LoRA adapters fitted jointly per video, both coded
  (``divinr.adapters=per_video``);
* (d) ``default``: the codec's defaults; for ``mini``, the INR with the *shared* adapters and
  context of the prior's pre-training (0 bits: part of the decoder).

Each variant's run folder is kept (``OUT/<variant>/``, resumable); ``OUT/ablation.csv`` is one tidy
row per (variant, sequence, rate point, metric).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pandas as pd

from codecbench import CodecbenchError

#: variant -> (what it tests, divinr codec options)
VARIANTS: dict[str, tuple[str, dict[str, str]]] = {
    "inr-vae": ("(a) INR -> VAE decode, no diffusion", {"diffusion": "false"}),
    "no-lora": ("(b) INR-conditioned diffusion, no LoRA", {"adapters": "shared", "shared": "none"}),
    "joint": ("(c) joint INR + per-video LoRA fit", {"adapters": "per_video"}),
    "default": ("(d) the codec's default: INR + the prior's shared LoRA and context", {}),
}
ID_COLUMNS = ["variant", "what", "codec", "sequence", "rate_point", "bytes", "bpp"]


def run_variant(
    variant: str, out: Path, common: list[str], options: dict[str, str], codec_opts: list[str]
) -> pd.DataFrame:
    """One ``codecbench run`` of a variant; its results.csv (ok rows) with the variant's columns."""
    folder = out / variant
    args = ["run", "--codecs", "divinr", "--out", str(folder), "--no-report", *common]
    for key, value in {**options}.items():
        args += ["--codec-opt", f"divinr.{key}={value}"]
    for opt in codec_opts:
        args += ["--codec-opt", opt]
    code = subprocess.run([sys.executable, "-m", "codecbench", *args]).returncode  # the public interface
    results = folder / "results.csv"
    if code != 0 or not results.is_file():
        raise CodecbenchError(f"ablation variant {variant}: the run failed (exit {code}); see {folder}")
    rows = pd.read_csv(results)
    rows = rows[rows.status == "ok"].copy()
    rows.insert(0, "variant", variant)
    rows.insert(1, "what", VARIANTS[variant][0])
    return rows


def tidy(rows: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """One row per (variant, sequence, rate point, metric)."""
    present = [m for m in metrics if m in rows.columns]
    return rows.melt(ID_COLUMNS, present, var_name="metric", value_name="value").dropna(subset=["value"])


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Mean bpp and metric per (variant, rate point) over the sequences: the figures for docs."""
    wide = table.pivot_table(
        index=["variant", "rate_point", "sequence", "bpp"], columns="metric", values="value"
    )
    return wide.reset_index().groupby(["variant", "rate_point"], sort=False).mean(numeric_only=True).round(4)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m codecbench_divinr.ablation", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", default="divinr-ablation", help="folder for the three runs and ablation.csv")
    parser.add_argument("--dataset", default="natural")
    parser.add_argument("--sequences", default="", help="comma-separated sequence names (default: all)")
    parser.add_argument(
        "--frames", type=int, default=0, help="first N frames of each sequence (default: all)"
    )
    parser.add_argument("--rate-points", default="", help="divinr rate points (default: the codec's ladder)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"subset of {','.join(VARIANTS)}")
    parser.add_argument("--metrics", default="psnr_y,ms_ssim_y,vmaf")
    parser.add_argument("--workers", default="", help="passed to codecbench run")
    parser.add_argument(
        "--codec-opt", action="append", default=[], help="extra divinr.KEY=VALUE for every variant"
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        variants = [v.strip() for v in args.variants.split(",") if v.strip()]
        unknown = [v for v in variants if v not in VARIANTS]
        if unknown:
            raise CodecbenchError(f"unknown ablation variant(s) {unknown}; choose from {list(VARIANTS)}")
        common = ["--dataset", args.dataset, "--metrics", args.metrics, "--quiet"]
        if args.sequences:
            common += ["--sequences", args.sequences]
        if args.frames:
            common += ["--frames", str(args.frames)]
        if args.workers:
            common += ["--workers", args.workers]
        extra = list(args.codec_opt)
        if args.rate_points:
            extra.append(f"divinr.rate_points={args.rate_points}")
        out = Path(args.out)
        rows = [run_variant(v, out, common, VARIANTS[v][1], extra) for v in variants]
        table = tidy(pd.concat(rows, ignore_index=True), args.metrics.split(","))
        out.mkdir(parents=True, exist_ok=True)
        table.to_csv(out / "ablation.csv", index=False)
        print(summary(table).to_string())
        print(f"\nwrote {out / 'ablation.csv'} ({len(table)} rows)")
        return 0
    except CodecbenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
