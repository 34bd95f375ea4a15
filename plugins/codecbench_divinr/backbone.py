"""The generative prior: Stable Video Diffusion components loaded through diffusers, ``mini`` or ``tiny``.

A backbone is a spatio-temporal UNet, a VAE with a temporal decoder and an Euler scheduler
(the SVD family). It is loaded with ``from_pretrained`` from a hub id (through the Hugging Face
cache, honouring ``HF_HUB_OFFLINE``, at a ``revision``) or a local folder in the SVD layout
(``unet/``, ``vae/``, ``scheduler/``). Two small backbones of the same classes ship with the plugin:

* ``mini``: trained by the project on openly licensed video (``python -m codecbench_divinr.train_mini``),
  stored in the SVD layout under ``weights/mini/`` (model card there); the stand-in whenever the
  paper's weights are out of reach, labelled ``divinr[mini]``;
* ``tiny``: random weights drawn from a seed, for fast plumbing tests only; never a default.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import AutoencoderKLTemporalDecoder, EulerDiscreteScheduler, UNetSpatioTemporalConditionModel

from codecbench import CodecUnavailableError

TINY = "tiny"
MINI = "mini"
#: The backbones that ship with the plugin (no download, no revision to choose).
BUILTIN = (MINI, TINY)
#: Where the trained ``mini`` prior lives (SVD layout, plus ``shared/`` adapters and context).
MINI_DIR = Path(__file__).parent / "weights" / "mini"
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


#: Default (encode optimisation steps per window, decoder Euler steps) per backbone. The encode
#: spends its steps on each diffusion window of the clip, so a longer clip gets more steps, not
#: fewer per window. The paper-scale values (200 / 8) apply to real SVD checkpoints; ``tiny`` and
#: ``mini`` get values that keep a CPU run of the embedded clips to minutes.
PAPER_SCHEDULE = (200, 8)
TINY_SCHEDULE = (12, 2)
MINI_SCHEDULE = (6, 3)
#: Regression-only warm-up steps of the INR per window, before the joint steps (paper: none).
#: ``mini``'s INR needs a few hundred steps to fit a clip, and they cost little without the UNet.
WARMUP_STEPS = {MINI: 100}
#: Frames that neighbouring diffusion windows share (and blend), per backbone.
OVERLAP = {TINY: 0, MINI: 2}
PAPER_OVERLAP = 4


def default_schedule(name: str) -> tuple[int, int]:
    """(steps per window, inference_steps) for backbone ``name`` when the options leave them unset."""
    return {TINY: TINY_SCHEDULE, MINI: MINI_SCHEDULE}.get(name, PAPER_SCHEDULE)


def default_warmup(name: str) -> int:
    """INR warm-up steps per window for backbone ``name`` when the option leaves them unset."""
    return WARMUP_STEPS.get(name, 0)


def default_overlap(name: str) -> int:
    """Frames shared by neighbouring windows for backbone ``name`` when the option leaves it unset."""
    return OVERLAP.get(name, PAPER_OVERLAP)


def mini_revision() -> str:
    """The revision of the shipped ``mini`` weights: ``mini-`` and a digest of their files.

    Derived from the bytes, so a retrained prior can never decode bitstreams of another one.
    Empty when the weights are missing.
    """
    files = [MINI_DIR / sub / WEIGHT_FILES[0] for sub in ("unet", "vae")]
    if not all(f.is_file() for f in files):
        return ""
    key = tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files)
    if key not in _DIGESTS:
        h = hashlib.sha256()
        for f in files:
            h.update(f.read_bytes())
        _DIGESTS[key] = f"mini-{h.hexdigest()[:12]}"
    return _DIGESTS[key]


_DIGESTS: dict[tuple, str] = {}


#: The ``shared`` option's value for "no shared adapters" (the LoRA updates stay zero).
NO_SHARED = "none"


def builtin_shared(name: str, lora_rank: int, lora_convs: bool) -> str:
    """The shared adapters and context shipped with built-in backbone ``name`` (``mini``'s ``shared/``),
    when they exist and were trained with this LoRA rank and targets; else ""."""
    folder = MINI_DIR / "shared"
    if name != MINI or not all(
        (folder / f).is_file() for f in ("adapters.safetensors", "context.safetensors")
    ):
        return ""
    try:
        trained = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return ""
    same = trained.get("lora_rank") == lora_rank and bool(trained.get("lora_convs")) == bool(lora_convs)
    return str(folder) if same else ""


def builtin_revision(name: str) -> str:
    """The only revision of a built-in backbone that this plugin can load ("" when not built in)."""
    return {TINY: TINY_REVISION, MINI: mini_revision()}.get(name, "")


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
    def is_builtin(self) -> bool:
        """Whether this is one of the plugin's own small backbones (``mini`` or ``tiny``)."""
        return self.name in BUILTIN

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


def mini_backbone() -> Backbone:
    """The trained ``mini`` prior shipped under :data:`MINI_DIR`, loaded with ``from_pretrained``."""
    unet = UNetSpatioTemporalConditionModel.from_pretrained(MINI_DIR, subfolder="unet")
    vae = AutoencoderKLTemporalDecoder.from_pretrained(MINI_DIR, subfolder="vae")
    scheduler = EulerDiscreteScheduler.from_pretrained(MINI_DIR, subfolder="scheduler")
    return Backbone(unet, vae, scheduler, MINI, mini_revision()).freeze()


def tiny_backbone(seed: int = 0) -> Backbone:
    """The ``tiny`` SVD-family backbone, its random weights drawn from ``seed`` (same seed, same weights)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = UNetSpatioTemporalConditionModel(**TINY_UNET)
        vae = AutoencoderKLTemporalDecoder(**TINY_VAE)
    return Backbone(unet, vae, EulerDiscreteScheduler(**SVD_SCHEDULER), TINY, TINY_REVISION).freeze()


#: The UNet widths of the published SVD and SVD-XT checkpoints: a folder with other widths is not the paper's.
SVD_BLOCKS = (320, 640, 1280, 1280)


def label_tag(name: str) -> str:
    """The tag of results coded with backbone ``name``: ``""`` for the paper's SVD (a hub id, or a
    folder whose UNet has SVD's widths), ``mini``/``tiny`` for the built-ins, and the folder's name
    for any other folder (a saved ``tiny``, a custom training), so no small model passes for SVD."""
    if name in BUILTIN:
        return name
    if not _is_folder(name):
        return ""
    try:
        config = json.loads((Path(name).expanduser() / "unet" / "config.json").read_text())
    except (OSError, ValueError):
        return ""  # unreadable: the load will fail and say why
    return "" if tuple(config.get("block_out_channels", ())) == SVD_BLOCKS else Path(name).name or "folder"


def software() -> str:
    """The libraries that define the ``tiny`` weights (drawn by torch's generator through diffusers' init)."""
    import diffusers

    return f"torch {torch.__version__.split('+')[0]}; diffusers {diffusers.__version__}"


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


def _is_folder(name: str) -> bool:
    path = Path(name).expanduser()
    return path.is_dir() or path.is_absolute() or name.startswith((".", "~"))


def _weights_present(name: str, revision: str) -> dict[str, set[str]]:
    """For ``unet`` and ``vae``: which of :data:`WEIGHT_FILES` are on this machine (folder or hub cache)."""
    if _is_folder(name):
        path = Path(name).expanduser()
        return {sub: {w for w in WEIGHT_FILES if (path / sub / w).is_file()} for sub in ("unet", "vae")}
    from huggingface_hub import try_to_load_from_cache

    return {
        sub: {
            w
            for w in WEIGHT_FILES
            if isinstance(try_to_load_from_cache(name, f"{sub}/{w}", revision=revision), str)
        }
        for sub in ("unet", "vae")
    }


def weight_variant(name: str, revision: str = "main") -> str | None:
    """The diffusers ``variant`` to load: ``None`` (full precision) when both components have it on
    this machine, else ``"fp16"`` when only the half-precision files are there (the probe and the load
    then agree on the files). ``None`` too when nothing is local (a download fetches the default)."""
    if name in BUILTIN:
        return None
    try:
        present = _weights_present(name, revision)
    except Exception:  # an invalid hub id: missing_files reports it
        return None
    if all(WEIGHT_FILES[0] in p for p in present.values()):
        return None
    if all(WEIGHT_FILES[1] in p for p in present.values()):
        return "fp16"
    return None


def missing_files(name: str, revision: str = "main") -> list[str]:
    """Files the backbone ``name`` needs that are not on this machine (empty when loadable offline).

    A hub id counts as present when its files are in the local Hugging Face cache; the weights
    count when one variant (full or fp16) is there for both the UNet and the VAE.
    """
    if name == TINY:
        return []
    if name == MINI:
        return [] if mini_revision() else [str(MINI_DIR / "unet" / WEIGHT_FILES[0])]
    from huggingface_hub.errors import HFValidationError

    try:
        present = _weights_present(name, revision)
    except HFValidationError:
        return [f"{name} (neither a folder nor a valid hub id)"]
    complete = any(all(w in p for p in present.values()) for w in WEIGHT_FILES)
    out = []
    if _is_folder(name):
        path = Path(name).expanduser()
        for sub in ("unet", "vae"):
            if not (path / sub / "config.json").is_file():
                out.append(str(path / sub / "config.json"))
            if not complete and WEIGHT_FILES[0] not in present[sub]:
                out.append(str(path / sub / WEIGHT_FILES[0]))
        if not (path / "scheduler" / "scheduler_config.json").is_file():
            out.append(str(path / "scheduler" / "scheduler_config.json"))
        return out
    for sub in ("unet", "vae"):
        if not complete and WEIGHT_FILES[0] not in present[sub]:
            out.append(f"{name}@{revision}:{sub}/{WEIGHT_FILES[0]} (not in the Hugging Face cache)")
    return out


def weights_location(name: str) -> str:
    """The folder :func:`missing_files` looks in for backbone ``name``: the local folder, or the
    backbone's folder in the Hugging Face cache ("" for ``tiny``)."""
    if name == TINY:
        return ""
    if name == MINI:
        return str(MINI_DIR)
    path = Path(name).expanduser()
    if path.is_dir() or path.is_absolute() or name.startswith((".", "~")):
        return str(path)
    from huggingface_hub.constants import HF_HUB_CACHE

    return str(Path(HF_HUB_CACHE) / f"models--{name.replace('/', '--')}")


def load_backbone(name: str, revision: str = "main", seed: int = 0) -> Backbone:
    """Load a backbone: ``mini``, ``tiny``, a local folder in the SVD layout, or a hub id (cache, offline).

    Raises :class:`CodecUnavailableError` naming what is missing when the weights cannot be reached.
    """
    if name in BUILTIN:
        own = builtin_revision(name)
        if not own:
            raise CodecUnavailableError(
                f"divinr {name} weights are missing from {MINI_DIR}; reinstall codecbench"
            )
        if revision not in (own, "main"):
            raise CodecUnavailableError(
                f"divinr {name} backbone revision {revision!r} is not this version's ({own})"
            )
        return tiny_backbone(seed) if name == TINY else mini_backbone()
    local = Path(name).is_dir()
    kwargs = {} if local else {"revision": revision, "local_files_only": offline()}
    variant = weight_variant(name, revision)
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


#: The backbone that replaces an unreachable one when ``fallback`` is on.
STAND_IN = MINI

_WARNED: set[tuple[str, str]] = set()


#: Backbones already warned about by this process or the one that started it (inherited by workers).
WARNED_ENV = "CODECBENCH_DIVINR_WARNED"


def warn_fallback(name: str, revision: str, reason: str) -> None:
    """Warn loudly (``RuntimeWarning`` and a stderr banner) that the stand-in replaces ``name``.

    Once per run: a worker process started after the warning inherits that it was given.
    """
    key = f"{name}@{revision}"
    if (name, revision) in _WARNED or key in os.environ.get(WARNED_ENV, "").split("\n"):
        return
    _WARNED.add((name, revision))
    os.environ[WARNED_ENV] = "\n".join(filter(None, [os.environ.get(WARNED_ENV, ""), key]))
    msg = (
        f"DIVINR FALLBACK: backbone {name!r}@{revision} is not reachable ({reason}). "
        f"Running with the small {STAND_IN!r} prior trained by codecbench; results are labelled "
        f"divinr[{STAND_IN}] and say nothing about the paper's configuration."
    )
    warnings.warn(msg, RuntimeWarning, stacklevel=3)
    print(f"\n{'!' * 78}\n{msg}\n{'!' * 78}\n", file=sys.stderr)


def resolve_backbone(name: str, revision: str = "main", seed: int = 0, fallback: bool = True) -> Backbone:
    """Load ``name``; when it cannot be reached and ``fallback`` is set, warn loudly and return the
    stand-in (:data:`STAND_IN`, the trained ``mini``)."""
    try:
        return load_backbone(name, revision, seed)
    except CodecUnavailableError as e:
        if not fallback or name == STAND_IN:
            raise
        warn_fallback(name, revision, str(e))
        return get_backbone(STAND_IN, "main", seed)


_LOADED: dict[tuple[str, str, int], Backbone] = {}


def get_backbone(name: str, revision: str = "main", seed: int = 0, fallback: bool = True) -> Backbone:
    """A private copy of a backbone (loaded once per process; LoRA injection must not leak between uses)."""
    import copy

    if name in BUILTIN:
        key = (name, builtin_revision(name) if revision == "main" else revision, seed if name == TINY else 0)
    else:
        key = (name, revision, 0)
    if key not in _LOADED:
        bb = resolve_backbone(name, revision, seed, fallback)
        if bb.name != name:  # fell back: resolve_backbone returned a private copy of the stand-in
            return bb
        _LOADED[key] = bb
    return copy.deepcopy(_LOADED[key])
