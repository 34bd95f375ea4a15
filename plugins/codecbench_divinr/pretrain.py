"""Pre-training of the shared decoder-side components with a LightningCLI (YAML config).

Trains, on a folder of clips in the Vimeo-90k septuplet layout
(``sequences/XXXXX/YYYY/im1.png .. im7.png`` listed in ``sep_trainlist.txt``), with the same
:class:`~codecbench_divinr.module.DivInrModule` as the per-video encode (``mode="pretrain"``):
the shared LoRA adapters, the shared cross-attention context embedding, and an INR whose weights
become the initialisation of every per-video fit. :class:`SaveShared` writes them to a folder
that the codec takes as ``--codec-opt divinr.shared=FOLDER``::

    python -m codecbench_divinr.pretrain fit --config cfg.yaml
"""

from __future__ import annotations

import sys
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.cli import LightningCLI
from torch.utils.data import DataLoader, Dataset
from torchvision.io import ImageReadMode, read_image

from codecbench import CodecbenchError
from codecbench_divinr.inr import frame_times
from codecbench_divinr.module import DivInrModule


class SeptupletDataset(Dataset):
    """Vimeo-90k septuplets as (frames (7, 3, H, W) in [-1, 1], times), centre-cropped to multiples of 8."""

    def __init__(self, root: Path | str, list_file: str = "sep_trainlist.txt", frames: int = 7) -> None:
        self.root = Path(root)
        listing = self.root / list_file
        if not listing.is_file():
            raise CodecbenchError(f"{listing}: no such list of septuplets (Vimeo-90k layout expected)")
        self.items = [ln.strip() for ln in listing.read_text().splitlines() if ln.strip()]
        if not self.items:
            raise CodecbenchError(f"{listing} lists no sequences")
        self.frames = frames

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        folder = self.root / "sequences" / self.items[i]
        imgs = [read_image(str(folder / f"im{k + 1}.png"), ImageReadMode.RGB) for k in range(self.frames)]
        x = torch.stack(imgs).float() / 127.5 - 1
        h, w = (x.shape[-2] // 8) * 8, (x.shape[-1] // 8) * 8
        top, left = (x.shape[-2] - h) // 2, (x.shape[-1] - w) // 2
        return {"frames": x[..., top : top + h, left : left + w], "t": frame_times(self.frames)}


class SeptupletDataModule(L.LightningDataModule):
    """Training septuplets from a Vimeo-90k-style folder."""

    def __init__(
        self, root: str, list_file: str = "sep_trainlist.txt", batch_size: int = 1, num_workers: int = 0
    ):
        super().__init__()
        self.root, self.list_file = root, list_file
        self.batch_size, self.num_workers = batch_size, num_workers

    def train_dataloader(self) -> DataLoader:
        data = SeptupletDataset(self.root, self.list_file)
        return DataLoader(data, batch_size=self.batch_size, shuffle=True, num_workers=self.num_workers)


class SaveShared(Callback):
    """At the end of training, write the shared components to ``folder`` (for ``divinr.shared``)."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            pl_module.save_shared(self.folder)


def main(args: list[str] | None = None) -> LightningCLI:
    """Run the LightningCLI (``fit --config cfg.yaml``); ``args`` defaults to the command line."""
    return LightningCLI(
        DivInrModule,
        SeptupletDataModule,
        args=args if args is not None else sys.argv[1:],
        save_config_kwargs={"overwrite": True},
    )


if __name__ == "__main__":
    main()
