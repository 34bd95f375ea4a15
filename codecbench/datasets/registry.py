"""Named datasets: the embedded natural and sample sets, the standard test sets, and folders of YUV files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from codecbench.datasets.base import Dataset
from codecbench.datasets.folder import folder_dataset
from codecbench.datasets.natural import NATURAL, natural_root
from codecbench.datasets.sample import SAMPLE, sample_root
from codecbench.errors import UnknownNameError
from codecbench.paths import data_root
from codecbench.video import Clip


def datasets() -> dict[str, Dataset]:
    """Every named dataset, by name."""
    from codecbench.datasets.catalog import DATASETS

    return {d.name: d for d in (NATURAL, SAMPLE, *DATASETS)}


#: Datasets built on this machine on first use, and the function that builds them (returns the folder).
EMBEDDED = {NATURAL.name: natural_root, SAMPLE.name: sample_root}
#: The dataset ``codecbench run`` uses when none is named.
DEFAULT_DATASET = NATURAL.name


def get_dataset(name: str) -> Dataset:
    known = datasets()
    if name not in known:
        raise UnknownNameError(
            "dataset", name, list(known) + ["<a folder of Name_WxH_FPS[_10bit].yuv files>"]
        )
    return known[name]


@dataclass(frozen=True)
class Selection:
    """The clips a run uses, and the dataset name recorded with them."""

    dataset: str
    root: Path
    clips: list[Clip]


def resolve(
    spec: str,
    root: Path | None = None,
    frames: int | None = None,
    sequences: list[str] | None = None,
) -> Selection:
    """Turn ``--dataset`` (a name or a folder path), ``--root``, ``--frames`` and ``--sequences`` into clips."""
    path = Path(spec).expanduser()
    if spec not in datasets() and (path.is_dir() or "/" in spec or spec.startswith(".")):
        ds = folder_dataset(path)
        where = path
    else:
        ds = get_dataset(spec)
        build = EMBEDDED.get(ds.name)
        where = build() if build else Path(root) if root else data_root(ds.name)
    return Selection(ds.name, where, ds.clips(where, frames=frames, names=sequences))
