"""Semantic-to-visual analysis: what the predicted clean latents look like along the denoising path.

At chosen Euler steps the sampler keeps the predicted clean latents x0; each is VAE-decoded and
compared with the source, giving a tidy table (step, frame, metric, value): PSNR-Y (always) and
LPIPS (when its weights are available), so a report can show layout settling before texture::

    python -m codecbench_divinr.analysis BITSTREAM SOURCE.yuv --steps 0,3,7 --out steps.csv --figure x0.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image, ImageDraw

from codecbench import (
    Clip,
    CodecbenchError,
    InputFormatError,
    VideoFormat,
    plane_psnr,
    rgb_to_yuv,
    yuv_to_rgb,
)
from codecbench_divinr.codec import load_decoder
from codecbench_divinr.inr import frame_times
from codecbench_divinr.sampler import blend_weights, decode_latents, sample_window, segments, windows


def _lpips() -> torch.nn.Module | None:
    """LPIPS(alex) when its weights are present locally, else None (the table then has PSNR-Y only)."""
    try:
        import lpips

        return lpips.LPIPS(net="alex", verbose=False).eval()
    except Exception:  # no torchvision backbone weights offline: LPIPS is unavailable
        return None


def step_analysis(
    bitstream: Path | str,
    source: Clip,
    steps: list[int],
    shared: str = "",
    images: dict[tuple[int, int], np.ndarray] | None = None,
) -> pd.DataFrame:
    """Metrics of the decoded predicted-x0 at each of ``steps`` (0-based Euler steps), per frame.

    When ``images`` is a dict, it receives each decoded x0 as RGB uint8 (H, W, 3) under (step, frame).
    """
    module, payload = load_decoder(bitstream, shared)
    f = payload.format
    fmt = VideoFormat(f["width"], f["height"], f["bit_depth"])
    if fmt != source.format or f["frames"] != source.frames:
        raise InputFormatError(
            f"source {source.format} x{source.frames} does not match the bitstream's {fmt}"
        )
    cfg = module.config
    bad = [s for s in steps if not 0 <= s < cfg.inference_steps]
    if bad:
        raise CodecbenchError(f"steps {bad} outside 0..{cfg.inference_steps - 1}")
    lp = _lpips()
    refs = list(source.read())
    t = frame_times(source.frames)
    ranges = windows(source.frames, cfg.window, cfg.overlap)
    x0: dict[int, torch.Tensor] = {}  # step -> blended x0 of the whole clip, as the decoder blends samples
    for k, r in enumerate(ranges):
        with torch.no_grad():
            cond = module.inr(t[r.start : r.stop]).float()
        _, kept = sample_window(module, cond, cfg.inference_steps, cfg.seed, keep=steps, frames=r)
        w = blend_weights(ranges, k).view(-1, 1, 1, 1)
        for step, lat in kept.items():
            x0.setdefault(step, torch.zeros((source.frames, *lat.shape[1:])))[r.start : r.stop] += w * lat
    weight = torch.zeros(source.frames)
    for k, r in enumerate(ranges):
        weight[r.start : r.stop] += blend_weights(ranges, k)
    rows = []
    for step, acc in sorted(x0.items()):
        blended = acc / weight.view(-1, 1, 1, 1)
        for seg in segments(ranges, source.frames):
            rgb = decode_latents(module, blended[seg.start : seg.stop])[:, :, : fmt.height, : fmt.width]
            for i, img in zip(seg, rgb, strict=True):
                if images is not None:
                    images[(step, i)] = (img.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
                dist = rgb_to_yuv(img.permute(1, 2, 0).numpy(), fmt)
                rows.append((step, i, "psnr_y", plane_psnr(refs[i].y, dist.y, fmt.max_value)))
                if lp is not None:
                    ref = torch.from_numpy(yuv_to_rgb(refs[i], fmt)).permute(2, 0, 1)[None] * 2 - 1
                    with torch.no_grad():
                        rows.append((step, i, "lpips", float(lp(ref, img[None] * 2 - 1))))
    return pd.DataFrame(rows, columns=["step", "frame", "metric", "value"])


def strip(
    source: Clip, images: dict[tuple[int, int], np.ndarray], table: pd.DataFrame, frame: int
) -> Image.Image:
    """One frame's predicted x0 at each kept step beside the source, each captioned with its PSNR-Y:
    the semantic-to-visual path as a picture (layout first, texture last)."""
    steps = sorted({s for s, f in images if f == frame})
    if not steps:
        raise CodecbenchError(f"frame {frame} was not analysed")
    ref = next(source.read(frame, 1))
    tiles = [(f"x0 at step {s}", images[(s, frame)]) for s in steps]
    tiles.append(("source", (yuv_to_rgb(ref, source.format) * 255).round().astype(np.uint8)))
    h, w = tiles[0][1].shape[:2]
    caption = 18
    canvas = Image.new("RGB", (w * len(tiles), h + caption), "white")
    draw = ImageDraw.Draw(canvas)
    psnr = table[(table.metric == "psnr_y") & (table.frame == frame)].set_index("step")["value"]
    for k, (name, arr) in enumerate(tiles):
        canvas.paste(Image.fromarray(arr), (k * w, caption))
        step = steps[k] if k < len(steps) else None
        label = name if step is None else f"{name}: {psnr.get(step, float('nan')):.2f} dB"
        draw.text((k * w + 4, 3), label, fill="black")
    return canvas


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m codecbench_divinr.analysis", description=__doc__.split("\n")[0]
    )
    p.add_argument("bitstream", type=Path)
    p.add_argument("source", type=Path, help="the source raw YUV file (format read from the bitstream)")
    p.add_argument("--steps", default="0", help="comma-separated 0-based denoising steps to keep")
    p.add_argument("--shared", default="", help="folder of shared components, if the bitstream used them")
    p.add_argument("--out", type=Path, help="CSV file (default: print the per-step means)")
    p.add_argument("--figure", type=Path, help="PNG strip of one frame's x0 at each step beside the source")
    p.add_argument("--frame", type=int, default=0, help="frame of the --figure strip")
    a = p.parse_args(argv)
    try:
        from codecbench_divinr import bitstream as bs

        f = bs.read(a.bitstream).format
        fmt = VideoFormat(f["width"], f["height"], f["bit_depth"])
        clip = Clip(a.source.stem, a.source, fmt, 24.0, int(f["frames"]))
        images: dict[tuple[int, int], np.ndarray] | None = {} if a.figure else None
        table = step_analysis(a.bitstream, clip, [int(s) for s in a.steps.split(",")], a.shared, images)
        if a.figure:
            strip(clip, images, table, a.frame).save(a.figure)
    except (CodecbenchError, ValueError) as e:
        print(f"divinr analysis: error: {e}", file=sys.stderr)
        return 2
    if a.out:
        table.to_csv(a.out, index=False)
    print(table.groupby(["metric", "step"])["value"].mean().to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
