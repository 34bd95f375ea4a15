"""Every pretrained weight file a metric needs: where it comes from and where it is looked for.

Weights live in the caches their libraries already use, so a file fetched once serves every tool:

- torch hub (``$TORCH_HOME/hub/checkpoints``, default ``~/.cache/torch/hub/checkpoints``): the
  torchvision AlexNet and VGG-16 backbones of LPIPS and DISTS, DISTS's alpha/beta layer weights (as
  ``piq`` names them), and the FID Inception ``pt_inception-2015-12-05`` weights (as
  ``torch-fidelity`` and ``torchmetrics`` name them);
- Python packages that ship their weights: the LPIPS linear layers come with the ``lpips`` wheel.

A metric whose files are missing is unavailable and names the exact path it needs; nothing is
ever downloaded implicitly, and random weights are never used. ``codecbench weights download``
fetches the files (checking the SHA-256 prefix that torch hub file names carry).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from codecbench.errors import CodecbenchError, CodecUnavailableError
from codecbench.requirements import Requirement


def torch_hub_checkpoints() -> Path:
    """The torch hub checkpoint folder, honouring ``$TORCH_HOME`` at call time."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


@dataclass(frozen=True)
class WeightFile:
    """One weight file: a name, its source URL, and where it is kept (torch hub cache or a package)."""

    name: str
    url: str
    filename: str
    description: str
    #: "torch_hub" (the checkpoint cache) or "package:NAME" (a file shipped inside package NAME).
    store: str = "torch_hub"
    #: Leading hex digits of the file's SHA-256 (torch hub's convention: part of the file name).
    sha256_prefix: str | None = None

    @property
    def path(self) -> Path:
        """Where the file is looked for now (the package form needs the package installed)."""
        if self.store == "torch_hub":
            return torch_hub_checkpoints() / self.filename
        package = self.store.removeprefix("package:")
        base = _package_dir(package)
        if base is None:
            return Path(f"<package {package} not installed>") / self.filename
        return base / self.filename

    def present(self) -> bool:
        return self.path.is_file()

    def requirement(self) -> Requirement:
        if self.present():
            return Requirement("weights", self.name, True, str(self.path), str(self.path))
        if self.store == "torch_hub":
            how = f"run `codecbench weights download {self.name}` or copy it from {self.url}"
        else:
            how = f"install the {self.store.removeprefix('package:')} package, which ships it"
        return Requirement("weights", self.name, False, f"needs file {self.path}; {how}", str(self.path))


WEIGHTS: dict[str, WeightFile] = {
    w.name: w
    for w in [
        WeightFile(
            "alexnet",
            "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
            "alexnet-owt-7be5be79.pth",
            "torchvision AlexNet (ImageNet), the LPIPS-Alex backbone",
            sha256_prefix="7be5be79",
        ),
        WeightFile(
            "vgg16",
            "https://download.pytorch.org/models/vgg16-397923af.pth",
            "vgg16-397923af.pth",
            "torchvision VGG-16 (ImageNet), the LPIPS-VGG and DISTS backbone",
            sha256_prefix="397923af",
        ),
        WeightFile(
            "lpips_alex_lin",
            "https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/alex.pth",
            "weights/v0.1/alex.pth",
            "LPIPS v0.1 linear layers on AlexNet (shipped with the lpips package)",
            store="package:lpips",
        ),
        WeightFile(
            "lpips_vgg_lin",
            "https://github.com/richzhang/PerceptualSimilarity/raw/master/lpips/weights/v0.1/vgg.pth",
            "weights/v0.1/vgg.pth",
            "LPIPS v0.1 linear layers on VGG-16 (shipped with the lpips package)",
            store="package:lpips",
        ),
        WeightFile(
            "dists_alpha_beta",
            "https://github.com/photosynthesis-team/piq/releases/download/v0.4.1/dists_weights.pt",
            "dists_weights.pt",
            "DISTS alpha/beta layer weights (Ding et al. 2020, as packaged by piq)",
        ),
        WeightFile(
            "inception_fid",
            "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
            "weights-inception-2015-12-05-6726825d.pth",
            "weights-inception-2015-12-05-6726825d.pth",
            "Inception-v3 pt_inception-2015-12-05 (the TF FID network, torch-fidelity's port)",
            sha256_prefix="6726825d",
        ),
    ]
}

#: The weight files each metric needs, by metric registry name.
METRIC_WEIGHTS: dict[str, tuple[str, ...]] = {
    "lpips_alex": ("alexnet", "lpips_alex_lin"),
    "lpips_vgg": ("vgg16", "lpips_vgg_lin"),
    "dists": ("vgg16", "dists_alpha_beta"),
    "fid": ("inception_fid",),
    "kid": ("inception_fid",),
}


def weight_file(name: str) -> WeightFile:
    """The weight file registered as ``name``; unknown names list the known ones."""
    try:
        return WEIGHTS[name]
    except KeyError:
        raise CodecbenchError(f"unknown weight file {name!r}; known: {', '.join(sorted(WEIGHTS))}") from None


def requirements_for(metric: str) -> list[Requirement]:
    """One :class:`Requirement` per weight file the metric ``metric`` needs."""
    return [WEIGHTS[n].requirement() for n in METRIC_WEIGHTS.get(metric, ())]


def require(metric: str) -> None:
    """Raise :class:`CodecUnavailableError` naming every missing file of ``metric``."""
    missing = [r for r in requirements_for(metric) if not r.ok]
    if missing:
        raise CodecUnavailableError(f"{metric} is unavailable: " + "; ".join(map(str, missing)))


def download(name: str, progress: bool = True) -> Path:
    """Fetch the weight file ``name`` into its cache (a no-op when present) and return its path.

    The download goes to a temporary file first and is checked against the SHA-256 prefix when
    one is known, so an interrupted or corrupt transfer never leaves a file in the cache.
    """
    wf = weight_file(name)
    if wf.present():
        return wf.path
    if wf.store != "torch_hub":
        package = wf.store.removeprefix("package:")
        raise CodecbenchError(f"{name} ships with the {package} package: install it")
    import torch.hub

    wf.path.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(wf.url, str(wf.path), hash_prefix=wf.sha256_prefix, progress=progress)
    except Exception as e:  # network errors come in many types (URLError, OSError, RuntimeError on hash)
        raise CodecbenchError(f"could not download {name} from {wf.url} to {wf.path}: {e}") from e
    return wf.path
