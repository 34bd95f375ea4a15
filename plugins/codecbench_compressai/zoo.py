"""The CompressAI models codecbench wraps, and where their weights come from.

One small table (CompressAI style) names each model: its zoo factory, qualities, metrics, the size its
input must be a multiple of, and the zoo's download URLs. Weights come from, in order of preference:

* ``checkpoint``: a local file (``{quality}`` and ``{metric}`` in the path are filled in) or a folder
  holding files named as in the zoo;
* the pretrained zoo, read from the torch hub cache ``$TORCH_HOME/hub/checkpoints/<zoo file name>``
  (downloaded there only when the user allows it);
* ``untrained``: the architecture with a fixed seed, for tests and speed measurements only; the codec's
  label says so, so such numbers never pass as a real baseline.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from compressai.models import CompressionModel
from compressai.zoo import image as zoo_image
from compressai.zoo import video as zoo_video
from compressai.zoo.pretrained import load_pretrained

from codecbench import CodecbenchError, CodecUnavailableError

UNTRAINED_SEED = 0


@dataclass(frozen=True)
class ModelSpec:
    """One CompressAI model as a codec: factory, qualities, metrics, padding multiple, zoo URLs."""

    name: str
    factory: Callable[..., CompressionModel]
    architecture: type[CompressionModel]
    qualities: tuple[int, ...]
    urls: Mapping[str, Mapping[int, str]]
    #: Input height and width must be multiples of this (2 ** number of stride-2 stages).
    multiple: int = 64

    @property
    def metrics(self) -> tuple[str, ...]:
        return tuple(self.urls)

    def file_name(self, metric: str, quality: int) -> str:
        """The zoo's file name for these weights (the hub cache keeps it)."""
        return self.urls[metric][quality].rsplit("/", 1)[-1]

    def url(self, metric: str, quality: int) -> str:
        return self.urls[metric][quality]


def _image(name: str, factory: Callable[..., CompressionModel]) -> ModelSpec:
    return ModelSpec(
        name,
        factory,
        zoo_image.model_architectures[name],
        tuple(sorted(zoo_image.cfgs[name])),
        zoo_image.model_urls[name],
    )


MODELS: dict[str, ModelSpec] = {
    "bmshj2018-factorized": _image("bmshj2018-factorized", zoo_image.bmshj2018_factorized),
    "bmshj2018-hyperprior": _image("bmshj2018-hyperprior", zoo_image.bmshj2018_hyperprior),
    "mbt2018-mean": _image("mbt2018-mean", zoo_image.mbt2018_mean),
    "mbt2018": _image("mbt2018", zoo_image.mbt2018),
    "cheng2020-anchor": _image("cheng2020-anchor", zoo_image.cheng2020_anchor),
    "cheng2020-attn": _image("cheng2020-attn", zoo_image.cheng2020_attn),
    # Four stride-2 stages in the transforms and three more in the hyperprior: 2 ** 7.
    "ssf2020": ModelSpec(
        "ssf2020",
        zoo_video.ssf2020,
        zoo_video.model_architectures["ssf2020"],
        tuple(range(1, 10)),
        zoo_video.model_urls["ssf2020"],
        multiple=128,
    ),
}


def hub_cache_file(spec: ModelSpec, metric: str, quality: int) -> Path:
    """Where torch hub keeps the zoo file: ``$TORCH_HOME/hub/checkpoints/<file>``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / spec.file_name(metric, quality)


def checkpoint_file(checkpoint: Path, spec: ModelSpec, metric: str, quality: int) -> Path:
    """The local file for a quality: a folder holds zoo-named files; a path may hold placeholders."""
    if checkpoint.is_dir():
        return checkpoint / spec.file_name(metric, quality)
    return Path(str(checkpoint).format(quality=quality, metric=metric))


def weights_file(
    spec: ModelSpec, metric: str, quality: int, source: str, checkpoint: Path | None
) -> Path | None:
    """The file a model loads from, or None for untrained weights."""
    if checkpoint is not None:
        return checkpoint_file(checkpoint, spec, metric, quality)
    if source == "untrained":
        return None
    return hub_cache_file(spec, metric, quality)


def _state_dict_from_file(path: Path) -> dict[str, torch.Tensor]:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # unreadable, truncated or not a torch file
        raise CodecbenchError(f"cannot read weights {path}: {type(e).__name__}: {e}") from None
    for key in ("network", "state_dict", "model_state_dict"):  # training-script wrappers
        if isinstance(obj, dict) and key in obj:
            obj = obj[key]
    if not isinstance(obj, dict):
        raise CodecbenchError(f"{path} holds a {type(obj).__name__}, not a state dict")
    return load_pretrained(obj)


def load_model(
    spec: ModelSpec,
    metric: str,
    quality: int,
    source: str = "pretrained",
    checkpoint: Path | None = None,
    download: bool = False,
) -> CompressionModel:
    """Build the model on the CPU in eval mode with its entropy tables ready (``update()``).

    ``update(force=False)`` keeps the CDF tables a checkpoint ships and computes only missing ones, on
    the CPU, so every device codes with the same tables.
    """
    if metric not in spec.metrics:
        raise CodecbenchError(f"{spec.name}: no {metric!r} models; choose from {list(spec.metrics)}")
    if quality not in spec.qualities:
        raise CodecbenchError(f"{spec.name}: quality {quality} not in {list(spec.qualities)}")
    path = weights_file(spec, metric, quality, source, checkpoint)
    if path is None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(UNTRAINED_SEED)
            model = spec.factory(quality, metric=metric, pretrained=False)
    elif checkpoint is not None:
        if not path.is_file():
            raise CodecUnavailableError(f"{spec.name}: checkpoint {path} not found")
        state = _state_dict_from_file(path)
        try:
            model = spec.architecture.from_state_dict(state)
        except (KeyError, RuntimeError) as e:
            raise CodecbenchError(f"{path} is not a {spec.name} checkpoint: {e}") from None
    else:
        if not path.is_file() and not download:
            raise CodecUnavailableError(
                f"{spec.name}: pretrained weights {path} not found "
                f"(download {spec.url(metric, quality)} there, or set the option download=true)"
            )
        if not path.is_file():  # download once, checking the hash the zoo file name carries
            torch.hub.load_state_dict_from_url(spec.url(metric, quality), progress=True, check_hash=True)
        model = spec.factory(quality, metric=metric, pretrained=True, progress=False)
    model = model.eval()
    model.update(force=False)
    return model


def fingerprint(model: torch.nn.Module) -> bytes:
    """4 bytes identifying the weights and entropy tables, so a decoder can refuse other weights."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        t = t.detach().cpu().contiguous().reshape(-1)
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes())
    return h.digest()[:4]
