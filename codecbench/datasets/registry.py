"""Named datasets, found through the entry-point group ``codecbench.datasets``, and folders of YUV files.

The built-in datasets (the embedded ``natural`` and ``sample`` sets, UVG, MCL-JCV, Class B) are
registered there by codecbench's own ``pyproject.toml``, exactly as a third-party package adds
one: an entry point naming a :class:`~codecbench.Dataset` object,

.. code-block:: toml

    [project.entry-points."codecbench.datasets"]
    my-set = "my_package.datasets:MY_SET"

where ``MY_SET = Dataset(name="my-set", description=..., sequences=(SequenceInfo(...), ...))``,
with ``downloads`` for ``codecbench datasets fetch`` or ``build`` for a set made on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

from codecbench.datasets.base import Dataset
from codecbench.datasets.folder import folder_dataset
from codecbench.errors import CodecbenchError, CodecUnavailableError, UnknownNameError
from codecbench.paths import data_root
from codecbench.registry import Plugin
from codecbench.video import Clip

DATASETS_GROUP = "codecbench.datasets"
#: The dataset ``codecbench run`` uses when none is named.
DEFAULT_DATASET = "natural"


def _plugins() -> dict[str, Plugin]:
    return {ep.name: Plugin(ep.name, ep) for ep in entry_points(group=DATASETS_GROUP)}


def _load(plugin: Plugin) -> Dataset:
    ds = plugin.load()
    if not isinstance(ds, Dataset):
        raise CodecUnavailableError(f"dataset plugin {plugin.name!r} does not name a codecbench.Dataset")
    if ds.name != plugin.name:
        raise CodecUnavailableError(f"dataset plugin {plugin.name!r} names a dataset called {ds.name!r}")
    return ds


def datasets() -> dict[str, Dataset]:
    """Every registered dataset that loads, by name: the ones built on first use first, then the
    others, each group by name (a broken plugin is left out, not fatal)."""
    out = []
    for plugin in _plugins().values():
        try:
            out.append(_load(plugin))
        except CodecbenchError:
            continue
    return {d.name: d for d in sorted(out, key=lambda d: (d.build is None, d.name))}


def get_dataset(name: str) -> Dataset:
    """The dataset registered as ``name``; unknown names list the known ones."""
    plugins = _plugins()
    if name not in plugins:
        raise UnknownNameError(
            "dataset", name, list(plugins) + ["<a folder of Name_WxH_FPS[_10bit].yuv files>"]
        )
    return _load(plugins[name])


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
    if spec not in _plugins() and (path.is_dir() or "/" in spec or spec.startswith(".")):
        ds = folder_dataset(path)
        where = path
    else:
        ds = get_dataset(spec)
        where = ds.build() if ds.build else Path(root) if root else data_root(ds.name)
    return Selection(ds.name, where, ds.clips(where, frames=frames, names=sequences))
