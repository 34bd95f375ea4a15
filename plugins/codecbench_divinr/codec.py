"""The ``divinr`` codec plugin: encode = a Lightning fit of the INR on the clip, decode = diffusion sampling.

Rate points are target bits per pixel, each with a rate weight λ (``name`` or ``name@lambda``),
lowest first; the INR is sized to the clip for its rate point (:mod:`codecbench_divinr.ladder`).
The backbone is a Stable Video Diffusion checkpoint (``backbone`` option: hub id or local folder,
``revision``); when its weights cannot be reached the codec falls back, loudly, to the small ``mini``
prior that ships with the plugin and labels itself ``divinr[mini]``. Label, configuration and
bitstream header always name the backbone that was actually loaded.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from codecbench import (
    Availability,
    BitstreamError,
    Clip,
    Codec,
    CodecbenchError,
    CodecUnavailableError,
    Frame,
    Option,
    Requirement,
    UnsupportedInputError,
    VideoFormat,
    choose_device,
    rgb_to_yuv,
)
from codecbench_divinr import __version__, bitstream, quant
from codecbench_divinr.backbone import (
    BUILTIN,
    NO_SHARED,
    STAND_IN,
    TINY,
    builtin_revision,
    builtin_shared,
    default_overlap,
    default_schedule,
    default_warmup,
    label_tag,
    missing_files,
    offline,
    software,
    warn_fallback,
    weights_location,
)
from codecbench_divinr.config import DivInrConfig
from codecbench_divinr.encoder import fit_clip, latent_hw
from codecbench_divinr.fastconv import fast_temporal_convs
from codecbench_divinr.ladder import LADDER, inr_for, parse_rate_point
from codecbench_divinr.lora import lora_modules

log = logging.getLogger(__name__)

DEFAULT_BACKBONE = "stabilityai/stable-video-diffusion-img2vid-xt"


def _device(choice: str) -> torch.device:
    return choose_device(choice, owner="divinr")


#: The configuration's defaults: the options below that set a config field take their default from here.
_CONFIG = DivInrConfig()


class DivInrCodec(Codec):
    name = "divinr"
    description = "DiV-INR: INR-conditioned video diffusion (SVD + LoRA), extreme low bitrate"
    rate_parameter = "inr_size"
    bitstream_suffix = ".dvir"
    resources = {"cpu": 1.0, "gpu": 1.0}
    options_spec = {
        "backbone": Option(
            DEFAULT_BACKBONE,
            "SVD-family backbone: hub id, local folder, 'mini' (shipped, trained) or 'tiny' (random)",
        ),
        "revision": Option("main", "hub revision of the backbone (branch, tag or commit)"),
        "fallback": Option(
            True,
            f"run with the shipped {STAND_IN} prior (labelled divinr[{STAND_IN}]) if weights are missing",
            bool,
        ),
        "seed": Option(
            _CONFIG.seed, "seed of sampling noise, INR init (and tiny's random weights); in the header", int
        ),
        "steps": Option(None, "joint optimisation steps per window (unset: 200; mini 6, tiny 12)", int),
        "warmup_steps": Option(
            None, "INR-only steps per window before the joint ones (unset: mini 100, others 0)", int
        ),
        "lr": Option(_CONFIG.lr, "Adam learning rate of the encode", float),
        "regression_weight": Option(
            _CONFIG.regression_weight, "weight of the INR-vs-VAE-latent regression loss", float
        ),
        "inference_steps": Option(
            None, "Euler sampling steps of the decoder, in the header (unset: 8; mini 3, tiny 2)", int
        ),
        "window": Option(0, "frames per diffusion window (0: the backbone's window)", int),
        "overlap": Option(
            None, "frames shared by neighbouring windows, blended (unset: 4; mini 2, tiny 0)", int
        ),
        "adapters": Option(
            _CONFIG.adapters,
            "LoRA adapters: shared (decoder side, 0 bits) or per_video (coded)",
            str,
            ("shared", "per_video"),
        ),
        "lora_rank": Option(_CONFIG.lora_rank, "LoRA rank", int),
        "lora_convs": Option(_CONFIG.lora_convs, "also adapt the ResNet convolutions", bool),
        "shared": Option(
            "",
            "shared adapters and context: a folder (python -m codecbench_divinr.pretrain), 'none', or "
            "empty for the backbone's own (mini ships its trained ones)",
        ),
        "device": Option("auto", "torch device: auto, cpu, cuda, cuda:N"),
        "devices": Option(1, "GPUs per encode (Lightning Trainer devices)", int),
        "strategy": Option(
            "auto", "Lightning strategy for devices > 1", str, ("auto", "ddp_spawn", "ddp", "fsdp")
        ),
        "precision": Option(
            "auto",
            "Trainer precision (auto: bf16-mixed on GPU, 32-true on CPU)",
            str,
            ("auto", "bf16-mixed", "16-mixed", "32-true"),
        ),
        "num_nodes": Option(1, "Lightning num_nodes (multi-node needs a SLURM launcher)", int),
        "gradient_checkpointing": Option(
            "auto", "UNet gradient checkpointing in the encode (auto: on GPU)", str, ("auto", "on", "off")
        ),
        "memory_gb": Option(
            24.0, "peak GPU memory (GiB) a decode may use: picks decode_chunk at encode time", float
        ),
        "decode_chunk": Option(
            None, "frames per VAE-decode chunk, in the header (unset: from memory_gb; 0: whole window)", int
        ),
        "checkpoint_every": Option(25, "save a resumable checkpoint every N steps", int),
        "diffusion": Option(
            _CONFIG.diffusion,
            "false: ablation (a), the decoder VAE-decodes the INR output (label ...,inr-vae])",
            bool,
        ),
        "progress": Option(True, "show a progress bar while encoding", bool),
    }

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        #: Estimated and actual size of the last encode (bits), for reports; the harness uses the file.
        self.last_rate: dict[str, float] = {}
        self._effective: str | None = None
        on_cpu = self.options["device"] == "cpu" or (
            self.options["device"] == "auto" and not torch.cuda.is_available()
        )
        self.resources = {"cpu": 1.0} if on_cpu else {"cpu": 1.0, "gpu": float(self.options["devices"])}

    # ---- identity ----------------------------------------------------------------------------
    def effective_backbone(self) -> str:
        """The backbone a run will use: the configured one, or the stand-in when its weights are out of reach.

        Probed once per process for each (backbone, revision); falling back warns loudly
        (``RuntimeWarning`` and a stderr banner), once per process.
        """
        if self._effective is not None:
            return self._effective
        name, rev = self.options["backbone"], self.options["revision"]
        key = (name, rev)
        if key not in _PROBED:
            missing = missing_files(name, rev)
            reachable = not missing or (not Path(name).exists() and not offline() and _hub_has(name, rev))
            _PROBED[key] = "" if reachable else f"needs {', '.join(missing)}"
        if not _PROBED[key] or not self.options["fallback"]:
            self._effective = name
            return name
        warn_fallback(name, rev, _PROBED[key])
        self._effective = STAND_IN
        return STAND_IN

    def schedule(self) -> tuple[int, int]:
        """Effective (steps, inference_steps): the options, or the effective backbone's defaults when unset."""
        steps, inference = default_schedule(self.effective_backbone())
        o = self.options
        return (
            steps if o["steps"] is None else o["steps"],
            inference if o["inference_steps"] is None else o["inference_steps"],
        )

    def warmup_steps(self) -> int:
        """Effective INR warm-up steps: the option, or the effective backbone's default when unset."""
        w = self.options["warmup_steps"]
        return default_warmup(self.effective_backbone()) if w is None else int(w)

    def overlap(self) -> int:
        """Effective window overlap: the option, or the effective backbone's default when unset."""
        o = self.options["overlap"]
        return default_overlap(self.effective_backbone()) if o is None else int(o)

    def _label_for(self, backbone: str) -> str:
        """The label of results coded with ``backbone``: ``divinr[mini]``/``divinr[tiny]`` for the shipped ones."""
        tags = [label_tag(backbone)] if label_tag(backbone) else []
        if not self.options["diffusion"]:
            tags.append("inr-vae")
        return f"{self.name}[{','.join(tags)}]" if tags else self.name

    @property
    def label(self) -> str:
        return self._label_for(self.effective_backbone())

    @classmethod
    def is_stand_in_label(cls, label: str) -> bool:
        """``divinr[mini]``, ``divinr[tiny]`` or ``divinr[<folder>]``: any backbone tag means the results
        are not the paper's SVD (``inr-vae`` alone only names the ablation)."""
        tags = label.partition("[")[2].rstrip("]").split(",") if "[" in label else []
        return any(t and t != "inr-vae" for t in tags)

    def available(self) -> Availability:
        """Whether it runs here; ``stand_in`` is the fallback's label when the backbone's weights are not
        on this machine. A local check (no hub request, no fallback warning), so listings stay fast."""
        name, rev = self.options["backbone"], self.options["revision"]
        backbone = name
        if name not in BUILTIN:
            probed = _PROBED.get((name, rev))  # this process's probe (the hub included), if it ran
            missing = missing_files(name, rev) if probed is None else probed
            backbone = STAND_IN if missing and self.options["fallback"] else name
        stand_in = self._label_for(backbone) if backbone != name else ""
        return Availability.of(self.requirements(), stand_in=stand_in)

    @property
    def version(self) -> str:
        import diffusers

        bb = self.effective_backbone()
        rev = builtin_revision(bb) or self.options["revision"]
        return (
            f"codecbench_divinr {__version__}; backbone {bb}@{rev}; "
            f"diffusers {diffusers.__version__}; torch {torch.__version__}"
        )

    def config(self) -> dict[str, Any]:
        out = dict(self.options)
        out["effective_backbone"] = self.effective_backbone()
        out["steps"], out["inference_steps"] = self.schedule()
        out["warmup_steps"] = self.warmup_steps()
        out["overlap"] = self.overlap()
        return out

    def requirements(self) -> list[Requirement]:
        name, rev = self.options["backbone"], self.options["revision"]
        out = [Requirement("python", "torch", True, torch.__version__)]
        if name != TINY:
            missing, where = missing_files(name, rev), weights_location(name)
            rev = builtin_revision(name) or rev
            if not missing:
                out.append(Requirement("weights", name, True, rev, where))
            elif self.options["fallback"]:
                detail = f"MISSING {', '.join(missing)}: falls back to {STAND_IN}"
                out.append(Requirement("weights", name, True, detail, where))
            else:
                out.append(Requirement("weights", name, False, f"needs {', '.join(missing)}", where))
        if self.options["shared"] not in ("", NO_SHARED):
            folder = Path(self.options["shared"])
            ok = all((folder / f).is_file() for f in ("adapters.safetensors", "context.safetensors"))
            out.append(Requirement("weights", "shared adapters", ok, str(folder)))
        if self.options["device"].startswith("cuda"):
            out.append(Requirement("device", "cuda", torch.cuda.is_available(), self.options["device"]))
        return out

    def shared_folder(self) -> str:
        """The shared adapters and context an encode uses: the ``shared`` option's folder, none for
        ``none`` or per-video adapters, else the effective backbone's own (``mini``'s shipped ones
        when their rank and targets match the options)."""
        o = self.options
        if o["shared"] == NO_SHARED or o["adapters"] == "per_video":
            return ""
        if o["shared"]:
            return o["shared"]
        return builtin_shared(self.effective_backbone(), o["lora_rank"], o["lora_convs"])

    # ---- rate points -------------------------------------------------------------------------
    def default_rate_points(self) -> list[str]:
        return list(LADDER)

    def check_rate_point(self, rate_point: str) -> None:
        parse_rate_point(rate_point)

    def check_format(self, fmt: VideoFormat) -> None:
        super().check_format(fmt)
        if fmt.width < 16 or fmt.height < 16:
            raise UnsupportedInputError(f"divinr needs at least 16x16 pictures, got {fmt}")

    # ---- encode ------------------------------------------------------------------------------
    def _config(self, rate_point: str, clip: Clip) -> DivInrConfig:
        point = parse_rate_point(rate_point)
        fmt = clip.format
        o = self.options
        steps, inference_steps = self.schedule()
        shared_sha = ""
        if o["shared"] not in ("", NO_SHARED) and o["adapters"] == "per_video":
            raise CodecbenchError("divinr: adapters=per_video codes its own adapters; leave shared empty")
        if self.shared_folder():
            from codecbench_divinr.module import shared_sha256

            shared_sha = shared_sha256(self.shared_folder())
        return DivInrConfig(
            backbone=self.effective_backbone(),
            revision=builtin_revision(self.effective_backbone()) or o["revision"],
            seed=o["seed"],
            inr=inr_for(point, fmt.width, fmt.height, clip.frames),
            lam=point.lam,
            steps=steps,
            warmup_steps=self.warmup_steps(),
            lr=o["lr"],
            regression_weight=o["regression_weight"],
            inference_steps=inference_steps,
            window=o["window"],
            overlap=self.overlap(),
            adapters=o["adapters"],
            lora_rank=o["lora_rank"],
            lora_convs=o["lora_convs"],
            fps=float(clip.fps),
            shared_sha256=shared_sha,
            diffusion=o["diffusion"],
        )

    def encode(self, clip: Clip, rate_point: str, workdir: Path) -> Path:
        self.check_format(clip.format)
        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        cfg = self._config(rate_point, clip)
        module = fit_clip(
            clip,
            cfg,
            workdir,
            window=self.options["window"],
            shared=self.shared_folder(),
            fallback=self.options["fallback"],
            device=_device(self.options["device"]),
            checkpoint_every=self.options["checkpoint_every"],
            progress=self.options["progress"],
            label=f"{self.label} {clip.name} @ {rate_point}",
            trainer_options={
                k: self.options[k]
                for k in ("devices", "strategy", "precision", "num_nodes")
                + ("gradient_checkpointing", "memory_gb", "decode_chunk")
            },
        )
        if module.backbone_name != self.effective_backbone():  # the load itself fell back: say so
            self._effective = module.backbone_name
        payload = export_payload(module, clip)
        out = workdir / f"{clip.name}_{rate_point.replace('@', '_')}{self.bitstream_suffix}"
        size = bitstream.write(out, payload)
        est = sum(t.model_bits() for t in payload.tensors)
        self.last_rate = {"estimated_payload_bits": est, "file_bits": 8.0 * size}
        log.info(
            "divinr %s %s: %d bytes (model estimate of the weights %.0f bytes)",
            clip.name,
            rate_point,
            size,
            est / 8,
        )
        return out

    # ---- decode ------------------------------------------------------------------------------
    def encode_details(self) -> dict[str, Any]:
        """The rate model's estimate beside the file's bits, kept in the job's record (never the rate)."""
        return dict(self.last_rate)

    def decode(self, bitstream_path: Path, workdir: Path) -> Iterator[Frame]:
        """Decode on one CPU thread (on a CPU device), whatever the job's thread budget.

        torch's CPU kernels split their float sums by thread count, so the same bitstream decoded
        with 1 and 2 threads gives different frames. One thread fixes the order of every sum: any
        machine with the same software re-decodes the published bytes (``codecbench verify``).
        """
        from codecbench_divinr.sampler import generate

        device = _device(self.options["device"])
        module, payload = load_decoder(bitstream_path, self.options["shared"], device)
        f = payload.format
        fmt = VideoFormat(f["width"], f["height"], f["bit_depth"])
        cfg = module.config
        saved = torch.get_num_threads()
        if device.type == "cpu":
            torch.set_num_threads(1)
        try:
            if cfg.diffusion:
                windows = generate(
                    module, f["frames"], cfg.inference_steps, cfg.seed, cfg.window, cfg.overlap
                )
            else:
                windows = inr_frames(module, f["frames"], cfg.window)
            for rgb in windows:
                for img in rgb:
                    arr = img[:, : fmt.height, : fmt.width].permute(1, 2, 0).numpy()
                    yield rgb_to_yuv(arr, fmt)
        finally:
            torch.set_num_threads(saved)


@torch.no_grad()
def inr_frames(module: Any, frames: int, window: int) -> Iterator[torch.Tensor]:
    """Ablation (a): the INR's latents VAE-decoded window by window, no diffusion (RGB in [0, 1])."""
    from codecbench_divinr.inr import frame_times
    from codecbench_divinr.sampler import chunks, decode_latents

    t = frame_times(frames, module.device)
    for r in chunks(frames, window):
        yield decode_latents(module, module.inr(t[r.start : r.stop]).float() * module.scaling_factor)


#: Per-process probe results: (backbone, revision) -> "" when reachable, else what is missing.
_PROBED: dict[tuple[str, str], str] = {}


def _hub_has(name: str, revision: str) -> bool:
    """Whether the hub answers for ``name`` (only asked when the weights are not cached and not offline)."""
    try:
        from huggingface_hub import file_exists

        return bool(file_exists(name, "unet/config.json", revision=revision))
    except Exception:  # no network, unknown repo, bad revision: not reachable
        return False


def coded_slots(module: Any) -> list[tuple[str, torch.nn.Module, str]]:
    """The quantised tensors a bitstream carries, in bitstream order: the INR, then per-video LoRA."""
    out = list(quant.quantised_tensors(module.inr, "inr"))
    if module.config.adapters == "per_video":
        for name, m in lora_modules(module.unet):
            out += list(quant.quantised_tensors(m, f"unet.{name}"))
    return out


def export_payload(module: Any, clip: Clip) -> bitstream.Payload:
    """The header and coded tensors (quantised INR, per-video LoRA) of a fitted module."""
    tensors = [bitstream.CodedTensor(*quant.export_ints(m, p)) for _, m, p in coded_slots(module)]
    fmt = clip.format
    form = {"width": fmt.width, "height": fmt.height, "bit_depth": fmt.bit_depth, "frames": clip.frames}
    return bitstream.Payload(module.config.to_dict(), form, tensors)


def load_decoder(
    path: Path | str, shared: str = "", device: torch.device | None = None
) -> tuple[Any, bitstream.Payload]:
    """Rebuild the decoder module of a bitstream: backbone from the header, coded weights set exactly."""
    from codecbench_divinr.module import DivInrModule, shared_sha256

    payload = bitstream.read(path)
    coded = payload.config
    own = builtin_revision(str(coded.get("backbone")))
    if own and coded.get("revision") != own:
        raise BitstreamError(
            f"{path}: coded with the {coded.get('backbone')} backbone revision {coded.get('revision')!r}; "
            f"this decoder has {own} (re-encode the clip)"
        )
    made_with = coded.get("software", "")
    if coded.get("backbone") == TINY and made_with and made_with != software():
        raise BitstreamError(
            f"{path}: coded with tiny weights drawn by {made_with}; this decoder draws them with "
            f"{software()}, which may give other weights (re-encode the clip)"
        )
    try:
        cfg = DivInrConfig.from_dict(payload.config)
        f = payload.format
        VideoFormat(f["width"], f["height"], f["bit_depth"])
        frames = int(f["frames"])
    except (CodecbenchError, KeyError, TypeError, ValueError) as e:
        raise BitstreamError(f"{path}: bad header ({e})") from e
    if frames < 1 or cfg.window < 1:
        raise BitstreamError(f"{path}: header says {frames} frames, window {cfg.window}")
    if cfg.shared_sha256 and not shared:  # the backbone's own shared folder, when it is the one coded with
        own = builtin_shared(cfg.backbone, cfg.lora_rank, cfg.lora_convs)
        shared = own if own and shared_sha256(own) == cfg.shared_sha256 else ""
    if shared == NO_SHARED:
        shared = ""
    if cfg.shared_sha256:
        if not shared:
            raise CodecUnavailableError(
                f"{path} was coded with shared adapters {cfg.shared_sha256}; set divinr.shared to their folder"
            )
        if shared_sha256(shared) != cfg.shared_sha256:
            raise BitstreamError(f"{path}: coded with shared adapters {cfg.shared_sha256}; {shared} differs")
    module = DivInrModule(
        cfg,
        latent_hw(f["width"], f["height"]),
        pixels=1,
        mode="encode",
        shared=shared if cfg.shared_sha256 else "",
        fallback=False,
    )
    slots = coded_slots(module)
    if len(slots) != len(payload.tensors):
        raise BitstreamError(f"{path}: {len(payload.tensors)} coded tensors, the model has {len(slots)}")
    for (name, m, p), t in zip(slots, payload.tensors):
        try:
            quant.set_dequantised(m, p, t.ints, t.step)
        except ValueError as e:
            raise BitstreamError(f"{path}: tensor {name}: {e}") from e
    module.eval()
    if device is not None:
        module.to(device)
    if module.device.type == "cpu":  # every CPU decode runs the same kernels, so bytes stay reproducible
        fast_temporal_convs(module.unet)
        fast_temporal_convs(module.vae)
    return module, payload
