"""The embedded ``sample`` dataset: short clips generated deterministically with the bundled ffmpeg.

It lets ``codecbench run`` work offline with no download. The clips are built from ffmpeg's
synthetic sources on first use and cached (keyed by recipe and ffmpeg version) under
``$CODECBENCH_CACHE/sample/``. They cover smooth evolving texture (Clouds), a zoom into fine
detail (Mandelbrot) and sharp-edged graphics with motion and text (TestPattern).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from codecbench import ffmpeg
from codecbench.atomic import atomic_path
from codecbench.datasets.base import Dataset, SequenceInfo
from codecbench.datasets.cache import build_once
from codecbench.paths import cache_dir
from codecbench.yuv import sha256_file

WIDTH, HEIGHT, FPS, FRAMES = 384, 256, 24, 16
_SIZE = f"s={WIDTH}x{HEIGHT}:r={FPS}"

#: name -> ffmpeg lavfi graph producing the clip.
RECIPES: dict[str, str] = {
    "Clouds": (
        f"perlin={_SIZE}:octaves=6:persistence=0.6:xscale=8:yscale=6:tscale=0.5:random_mode=ken,"
        "format=rgb24,eq=contrast=2.2:brightness=-0.1,"
        "colorchannelmixer=rr=0.6:rb=0.3:gg=0.8:bb=1.0:br=0.2"
    ),
    "Mandelbrot": (
        f"mandelbrot={_SIZE}:start_x=-0.743643887037151:start_y=0.131825904205330:"
        "start_scale=0.05:end_scale=0.035:end_pts=2"
    ),
    "TestPattern": f"testsrc2={_SIZE}",
}


def _key(exe: str) -> str:
    blob = json.dumps([RECIPES, WIDTH, HEIGHT, FPS, FRAMES, ffmpeg.version(exe)], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def sample_root() -> Path:
    """Folder holding the generated sample clips, building them on first use."""
    exe = ffmpeg.ffmpeg_exe()

    def build(root: Path) -> dict:
        sums = {}
        for name, graph in RECIPES.items():
            target = root / f"{name}_{WIDTH}x{HEIGHT}_{FPS}.yuv"
            with atomic_path(target) as tmp:
                args = ["-f", "lavfi", "-i", graph, "-frames:v", FRAMES, "-pix_fmt", "yuv420p"]
                ffmpeg.run([*args, "-f", "rawvideo", tmp], exe=exe, what=f"generating sample clip {name}")
            sums[target.name] = sha256_file(target)
        return {"ffmpeg": ffmpeg.version(exe), "sha256": sums}

    return build_once(cache_dir() / "sample" / _key(exe), build)


SAMPLE = Dataset(
    name="sample",
    description=f"{len(RECIPES)} synthetic {WIDTH}x{HEIGHT} clips of {FRAMES} frames made by ffmpeg (offline)",
    sequences=tuple(
        SequenceInfo(
            name,
            WIDTH,
            HEIGHT,
            FPS,
            FRAMES,
            filename=f"{name}_{WIDTH}x{HEIGHT}_{FPS}.yuv",
            source=f"ffmpeg lavfi: {graph}",
        )
        for name, graph in RECIPES.items()
    ),
    license="generated locally; no licence restrictions",
    build=sample_root,
)
