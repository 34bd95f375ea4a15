"""Visual comparison: the same crop of one decoded frame from each codec, side by side.

For each sequence, every codec contributes the job whose bpp is closest (in log scale) to a target
bpp, through its PNG snapshot (``snapshot_path``, relative to the run folder). The crop is the
window with the most detail (gradient energy) of the reference frame when the run saved one
(:meth:`RunStore.reference_snapshot <codecbench.run.store.RunStore.reference_snapshot>`), else of the first codec's frame.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from codecbench.run.store import RunStore

#: Largest side of a crop, in pixels.
CROP = 256


@dataclass
class Tile:
    """One crop shown in the comparison."""

    title: str
    png_base64: str
    bpp: float | None = None
    rate_point: str = ""
    stand_in: bool = False


@dataclass
class Comparison:
    """The tiles of one sequence, plus the crop window and why some codecs are missing."""

    dataset: str
    sequence: str
    target_bpp: float
    window: tuple[int, int, int, int] = (0, 0, 0, 0)
    tiles: list[Tile] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def _run_file(store: RunStore, relative: object) -> Path | None:
    """The file a record names, if it exists and stays inside the run folder; else None."""
    path = store.inside(relative)
    return path if path is not None and path.is_file() else None


def _load_rgb(path: Path) -> np.ndarray | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (OSError, UnidentifiedImageError):
        return None


def detail_window(rgb: np.ndarray, size: int = CROP) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the ``size``-pixel window, on a half-window grid, with most gradient energy."""
    h, w = rgb.shape[:2]
    cw, ch = min(size, w), min(size, h)
    luma = rgb[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    energy = np.zeros_like(luma)
    energy[:, 1:] += np.abs(np.diff(luma, axis=1))
    energy[1:, :] += np.abs(np.diff(luma, axis=0))
    best, best_xy = -1.0, (0, 0)
    for y in range(0, h - ch + 1, max(1, ch // 2)):
        for x in range(0, w - cw + 1, max(1, cw // 2)):
            e = float(energy[y : y + ch, x : x + cw].sum())
            if e > best:
                best, best_xy = e, (x, y)
    return best_xy[0], best_xy[1], cw, ch


def _png_base64(rgb: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="PNG", optimize=True)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def closest_rows(rows: pd.DataFrame, target_bpp: float) -> pd.DataFrame:
    """For each codec, the row whose bpp is closest to ``target_bpp`` in log scale."""
    rows = rows[pd.to_numeric(rows["bpp"], errors="coerce") > 0].copy()
    rows["_dist"] = np.abs(np.log(rows["bpp"].astype(float) / target_bpp))
    return rows.sort_values(["codec", "_dist"]).groupby("codec", sort=True).head(1).drop(columns="_dist")


def build_comparisons(
    ok_rows: pd.DataFrame,
    store: RunStore,
    anchor: str | None,
    target_bpp: float | None,
    is_stand_in: dict[str, bool],
    max_sequences: int = 12,
) -> list[Comparison]:
    """Comparisons for up to ``max_sequences`` sequences that have at least one snapshot.

    ``target_bpp`` defaults, per sequence, to the median bpp of the anchor's jobs (of all jobs
    when the anchor has none there).
    """
    if "snapshot_path" not in ok_rows.columns:
        return []
    out: list[Comparison] = []
    for (dataset, seq), rows in ok_rows.groupby(["dataset", "sequence"], sort=True):
        if len(out) >= max_sequences:
            break
        base = rows[rows["codec"] == anchor] if anchor is not None else rows
        target = target_bpp or float(np.median((base if len(base) else rows)["bpp"].astype(float)))
        comp = Comparison(str(dataset), str(seq), target)
        images: list[tuple[Tile, np.ndarray]] = []
        ref_path = _run_file(store, store.relative(store.reference_snapshot(str(dataset), str(seq))))
        ref = _load_rgb(ref_path) if ref_path else None
        for row in closest_rows(rows, target).itertuples(index=False):
            path = _run_file(store, getattr(row, "snapshot_path", None))
            rgb = _load_rgb(path) if path else None
            if rgb is None:
                comp.missing.append(str(row.codec))
                continue
            tile = Tile(str(row.codec), "", float(row.bpp), str(getattr(row, "rate_point", "")))
            tile.stand_in = is_stand_in.get(str(row.codec), False)
            images.append((tile, rgb))
        if not images:
            continue
        if ref is not None:
            images.insert(0, (Tile("reference (source)", ""), ref))
        shapes = {im.shape[:2] for _, im in images}
        if len(shapes) > 1:  # snapshots of different sizes cannot share a window
            largest = images[0][1].shape[:2]
            comp.missing += [t.title for t, im in images if im.shape[:2] != largest]
            images = [(t, im) for t, im in images if im.shape[:2] == largest]
        x, y, w, h = detail_window(images[0][1])
        comp.window = (x, y, w, h)
        for tile, rgb in images:
            tile.png_base64 = _png_base64(rgb[y : y + h, x : x + w])
            comp.tiles.append(tile)
        out.append(comp)
    return out
