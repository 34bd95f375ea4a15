"""The generative prior: Stable Video Diffusion components loaded through diffusers, or ``tiny``.

A backbone is a spatio-temporal UNet, a VAE with a temporal decoder and an Euler scheduler
(the SVD family). It is loaded with ``from_pretrained`` from a hub id (through the Hugging Face
cache, honouring ``HF_HUB_OFFLINE``, at a ``revision``) or a local folder in the SVD layout
(``unet/``, ``vae/``, ``scheduler/``). ``tiny`` is a small configuration of the same classes,
initialised deterministically from a seed so that encoder and decoder rebuild identical weights;
it exists for tests and offline runs and is never presented as the paper's configuration.
"""

from __future__ import annotations

import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import AutoencoderKLTemporalDecoder, EulerDiscreteScheduler, UNetSpatioTemporalConditionModel

from codecbench import CodecUnavailableError

TINY = "tiny"
#: Bumped whenever the tiny configuration changes, so old bitstreams are refused rather than misdecoded.
TINY_REVISION = "tiny-v2"
SUBFOLDERS = ("unet", "vae", "scheduler")
WEIGHT_FILES = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors")

#: The scheduler settings of stabilityai/stable-video-diffusion-img2vid(-xt) (EDM, v-prediction).
SVD_SCHEDULER = dict(
    beta_start=0.00085,
    beta_end=0.012,
    beta_schedule="scaled_linear",
    interpolation_type="linear",
    num_train_timesteps=1000,
    prediction_type="v_prediction",
    sigma_max=700.0,
    sigma_min=0.002,
    steps_offset=1,
    timestep_spacing="leading",
    timestep_type="continuous",
    use_karras_sigmas=True,
)

#: tiny-v2: no attention at the full latent resolution (a 384x256 clip has 48x32 = 1536 latent
#: tokens per frame there; spatial attention and its projections were most of a CPU step), attention
#: only at half resolution, 32 channels throughout (the smallest width SVD's GroupNorm(32) allows).
TINY_UNET = dict(
    sample_size=None,
    in_channels=8,
    out_channels=4,
    down_block_types=("DownBlockSpatioTemporal", "CrossAttnDownBlockSpatioTemporal"),
    up_block_types=("CrossAttnUpBlockSpatioTemporal", "UpBlockSpatioTemporal"),
    block_out_channels=(32, 32),
    addition_time_embed_dim=8,
    projection_class_embeddings_input_dim=24,
    layers_per_block=1,
    cross_attention_dim=32,
    num_attention_heads=(2, 2),
    num_frames=8,
)

#: Four blocks keep SVD's 8x latent down-sampling; 32 channels and one layer per block are the
#: floor of AutoencoderKLTemporalDecoder (its GroupNorms have 32 groups), so the VAE is unchanged.
TINY_VAE = dict(
    block_out_channels=(32, 32, 32, 32),
    down_block_types=("DownEncoderBlock2D",) * 4,
    layers_per_block=1,
    latent_channels=4,
)


#: Default (encode optimisation steps, decoder Euler steps) per backbone. The paper-scale values
#: (200 / 8) apply to real SVD checkpoints; the random tiny backbone measures plumbing and rate,
#: not quality, so it gets values that keep a CPU benchmark of the sample dataset to minutes.
PAPER_SCHEDULE = (200, 8)
TINY_SCHEDULE = (24, 2)


def default_schedule(name: str) -> tuple[int, int]:
    """(steps, inference_steps) the codec uses for backbone ``name`` when the options leave them unset."""
    return TINY_SCHEDULE if name == TINY else PAPER_SCHEDULE


@dataclass
class Backbone:
    """The three SVD components plus where they came from."""

    unet: UNetSpatioTemporalConditionModel
    vae: AutoencoderKLTemporalDecoder
    scheduler: EulerDiscreteScheduler
    name: str
    revision: str

    @property
    def is_tiny(self) -> bool:
        return self.name == TINY

    @property
    def latent_channels(self) -> int:
        return int(self.vae.config.latent_channels)

    @property
    def vae_scale(self) -> int:
        """Spatial down-sampling factor of the VAE (8 for SVD)."""
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    @property
    def context_dim(self) -> int:
        dim = self.unet.config.cross_attention_dim
        return int(dim if isinstance(dim, int) else dim[0])

    @property
    def time_embed_dim(self) -> int:
        return int(self.unet.config.addition_time_embed_dim)

    @property
    def window(self) -> int:
        """The frame window the UNet was trained on (14 for SVD, 25 for SVD-XT)."""
        return int(self.unet.config.num_frames)

    def freeze(self) -> Backbone:
        for m in (self.unet, self.vae):
            m.requires_grad_(False)
            m.eval()
        return self


def tiny_backbone(seed: int = 0) -> Backbone:
    """The ``tiny`` SVD-family backbone, its random weights drawn from ``seed`` (same seed, same weights)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = UNetSpatioTemporalConditionModel(**TINY_UNET)
        vae = AutoencoderKLTemporalDecoder(**TINY_VAE)
    return Backbone(unet, vae, EulerDiscreteScheduler(**SVD_SCHEDULER), TINY, TINY_REVISION).freeze()


def save_backbone(backbone: Backbone, folder: Path | str) -> Path:
    """Write the backbone in the SVD folder layout with ``save_pretrained`` (loadable by :func:`load_backbone`)."""
    folder = Path(folder)
    backbone.unet.save_pretrained(folder / "unet")
    backbone.vae.save_pretrained(folder / "vae")
    backbone.scheduler.save_pretrained(folder / "scheduler")
    return folder


def offline() -> bool:
    """Whether the Hugging Face hub must not be contacted (``HF_HUB_OFFLINE``)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def missing_files(name: str, revision: str = "main") -> list[str]:
    """Files the backbone ``name`` needs that are not on this machine (empty when loadable offline).

    A hub id counts as present when its files are in the local Hugging Face cache.
    """
    if name == TINY:
        return []
    path = Path(name).expanduser()
    if path.is_dir() or path.is_absolute() or name.startswith((".", "~")):
        out = []
        for sub in ("unet", "vae"):
            if not (path / sub / "config.json").is_file():
                out.append(str(path / sub / "config.json"))
            if not any((path / sub / w).is_file() for w in WEIGHT_FILES):
                out.append(str(path / sub / WEIGHT_FILES[0]))
        if not (path / "scheduler" / "scheduler_config.json").is_file():
            out.append(str(path / "scheduler" / "scheduler_config.json"))
        return out
    from huggingface_hub import try_to_load_from_cache
    from huggingface_hub.errors import HFValidationError

    out = []
    for sub in ("unet", "vae"):
        try:
            cached = [try_to_load_from_cache(name, f"{sub}/{w}", revision=revision) for w in WEIGHT_FILES]
        except HFValidationError:
            return [f"{name} (neither a folder nor a valid hub id)"]
        if not any(isinstance(c, str) for c in cached):
            out.append(f"{name}@{revision}:{sub}/{WEIGHT_FILES[0]} (not in the Hugging Face cache)")
    return out


def weights_location(name: str) -> str:
    """The folder :func:`missing_files` looks in for backbone ``name``: the local folder, or the
    backbone's folder in the Hugging Face cache ("" for ``tiny``)."""
    if name == TINY:
        return ""
    path = Path(name).expanduser()
    if path.is_dir() or path.is_absolute() or name.startswith((".", "~")):
        return str(path)
    from huggingface_hub.constants import HF_HUB_CACHE

    return str(Path(HF_HUB_CACHE) / f"models--{name.replace('/', '--')}")


def load_backbone(name: str, revision: str = "main", seed: int = 0) -> Backbone:
    """Load a backbone: ``tiny``, a local folder in the SVD layout, or a hub id (cache, offline mode).

    Raises :class:`CodecUnavailableError` naming what is missing when the weights cannot be reached.
    """
    if name == TINY:
        if revision not in (TINY_REVISION, "main"):
            raise CodecUnavailableError(
                f"divinr tiny backbone revision {revision!r} is not this version's ({TINY_REVISION})"
            )
        return tiny_backbone(seed)
    local = Path(name).is_dir()
    kwargs = {} if local else {"revision": revision, "local_files_only": offline()}
    fp16_only = local and not (Path(name) / "unet" / WEIGHT_FILES[0]).is_file()
    variant = "fp16" if fp16_only else None
    try:
        unet = UNetSpatioTemporalConditionModel.from_pretrained(
            name, subfolder="unet", variant=variant, **kwargs
        )
        vae = AutoencoderKLTemporalDecoder.from_pretrained(name, subfolder="vae", variant=variant, **kwargs)
        scheduler = EulerDiscreteScheduler.from_pretrained(name, subfolder="scheduler", **kwargs)
    except Exception as e:  # hub errors, missing files, offline mode: all mean "not reachable here"
        missing = missing_files(name, revision) or [name]
        raise CodecUnavailableError(
            f"divinr backbone {name!r} (revision {revision}) cannot be loaded: {type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else ''}; needs {', '.join(missing)}"
        ) from e
    return Backbone(unet, vae, scheduler, name, "local" if local else revision).freeze()


_WARNED: set[tuple[str, str]] = set()


#: Backbones already warned about by this process or the one that started it (inherited by workers).
WARNED_ENV = "CODECBENCH_DIVINR_WARNED"


def warn_fallback(name: str, revision: str, reason: str) -> None:
    """Warn loudly (``RuntimeWarning`` and a stderr banner) that ``tiny`` replaces ``name``.

    Once per run: a worker process started after the warning inherits that it was given.
    """
    key = f"{name}@{revision}"
    if (name, revision) in _WARNED or key in os.environ.get(WARNED_ENV, "").split("\n"):
        return
    _WARNED.add((name, revision))
    os.environ[WARNED_ENV] = "\n".join(filter(None, [os.environ.get(WARNED_ENV, ""), key]))
    msg = (
        f"DIVINR FALLBACK: backbone {name!r}@{revision} is not reachable ({reason}). "
        "Running with the TINY random-initialised backbone; results are labelled divinr[tiny] "
        "and say nothing about the paper's configuration."
    )
    warnings.warn(msg, RuntimeWarning, stacklevel=3)
    print(f"\n{'!' * 78}\n{msg}\n{'!' * 78}\n", file=sys.stderr)


def resolve_backbone(name: str, revision: str = "main", seed: int = 0, fallback: bool = True) -> Backbone:
    """Load ``name``; when it cannot be reached and ``fallback`` is set, warn loudly and return ``tiny``."""
    try:
        return load_backbone(name, revision, seed)
    except CodecUnavailableError as e:
        if not fallback:
            raise
        warn_fallback(name, revision, str(e))
        return get_backbone(TINY, TINY_REVISION, seed)


_LOADED: dict[tuple[str, str, int], Backbone] = {}


def get_backbone(name: str, revision: str = "main", seed: int = 0, fallback: bool = True) -> Backbone:
    """A private copy of a backbone (loaded once per process; LoRA injection must not leak between uses)."""
    import copy

    if name == TINY:
        key = (name, TINY_REVISION if revision == "main" else revision, seed)
    else:
        key = (name, revision, 0)
    if key not in _LOADED:
        bb = resolve_backbone(name, revision, seed, fallback)
        if bb.name != name:  # fell back: resolve_backbone returned a private copy of tiny
            return bb
        _LOADED[key] = bb
    return copy.deepcopy(_LOADED[key])
