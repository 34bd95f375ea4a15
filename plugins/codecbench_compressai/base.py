"""The shared CompressAI codec: options, weights, header, determinism; subclasses say how frames are coded.

Encoding writes one file (see :mod:`.bitstream`); decoding reads only that file and the weights the
header names (model, metric, quality, checked by fingerprint). Subclasses implement two generators:
``_encode_packets`` (frames in, one packet per frame out, with the encoder side's reconstruction when
asked) and ``_decode_packets`` (packets in, frames out).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import compressai
import torch
from tqdm import tqdm

from codecbench import (
    BitstreamError,
    Clip,
    Codec,
    CodecbenchError,
    CodecUnavailableError,
    Frame,
    Option,
    Requirement,
    VideoFormat,
    choose_device,
)

from . import frames as F
from .bitstream import BitstreamWriter, Header, Packet, read_bitstream
from .zoo import MODELS, UNTRAINED_SEED, ModelSpec, fingerprint, load_model, weights_file

COMMON_OPTIONS: dict[str, Option] = {
    "metric": Option("mse", "distortion the weights were trained for", str, ("mse", "ms-ssim")),
    "weights": Option(
        "pretrained",
        "pretrained: CompressAI zoo weights; untrained: seeded random init (tests and speed only)",
        str,
        ("pretrained", "untrained"),
    ),
    "checkpoint": Option(
        None, "local weights: a file ({quality}, {metric} are filled in) or a folder of zoo files", Path
    ),
    "download": Option(False, "download missing zoo weights into the torch hub cache", bool),
    "device": Option("auto", "torch device: auto (cuda when available), cpu, cuda, cuda:N", str),
    "progress": Option(True, "show a per-frame progress bar (on a terminal)", bool),
    "threads": Option(
        0, "CPU threads while coding; 0 keeps torch's setting (1 is fastest on a busy CPU)", int
    ),
}


@contextmanager
def deterministic(threads: int = 0) -> Iterator[None]:
    """Deterministic kernels and no TF32 while coding, restored afterwards (other plugins share torch).

    The entropy coder's tables are indexed by network outputs, so encoder and decoder must compute
    them bit-exactly; TF32 and autotuned convolutions would let them drift on a GPU. ``threads`` > 0
    sets torch's CPU threads for the duration.
    """
    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    saved_threads = torch.get_num_threads()
    if threads > 0:
        torch.set_num_threads(threads)
    saved = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        cudnn.deterministic,
        cudnn.benchmark,
        cudnn.allow_tf32,
        matmul.allow_tf32,
    )
    torch.use_deterministic_algorithms(True, warn_only=True)
    cudnn.deterministic, cudnn.benchmark, cudnn.allow_tf32, matmul.allow_tf32 = True, False, False, False
    try:
        with torch.inference_mode():
            yield
    finally:
        torch.set_num_threads(saved_threads)
        torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
        cudnn.deterministic, cudnn.benchmark, cudnn.allow_tf32, matmul.allow_tf32 = saved[2:]


class CompressAICodec(Codec):
    """A CompressAI model as a codec; the rate point is the zoo's quality index."""

    rate_parameter = "quality"
    bitstream_suffix = ".cai"
    options_spec: ClassVar[dict[str, Option]] = COMMON_OPTIONS

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if self.options["threads"] < 0:
            raise CodecbenchError(f"{self.name}.threads: must be 0 (torch's setting) or more")
        self._models: dict[tuple[str, int], tuple[torch.nn.Module, bytes]] = {}

    @property
    def spec(self) -> ModelSpec:
        return MODELS[self.name]

    @property
    def label(self) -> str:
        tags = []
        if self.options["metric"] != "mse":
            tags.append(self.options["metric"])
        if self.options["checkpoint"] is not None:
            tags.append(f"ckpt:{Path(self.options['checkpoint']).stem}")
        elif self.options["weights"] == "untrained":
            tags.append("untrained")
        return f"{self.name}[{','.join(tags)}]" if tags else self.name

    @property
    def version(self) -> str:
        return f"compressai {compressai.__version__}, torch {torch.__version__}"

    def config(self) -> dict[str, Any]:
        cfg = {k: v for k, v in self.options.items() if k not in ("progress", "threads")}
        cfg["checkpoint"] = None if cfg["checkpoint"] is None else str(cfg["checkpoint"])
        return cfg

    def default_rate_points(self) -> list[str]:
        return [str(q) for q in self.spec.qualities]

    def _quality(self, rate_point: str) -> int:
        try:
            q = int(str(rate_point).strip())
        except ValueError:
            q = None
        if q not in self.spec.qualities:
            raise CodecbenchError(
                f"{self.name}: rate point {rate_point!r} is not a quality in {self.default_rate_points()}"
            )
        return q

    def check_rate_point(self, rate_point: str) -> None:
        self._quality(rate_point)

    @property
    def resources(self) -> dict[str, float]:  # type: ignore[override]
        """A GPU for schedulers (Ray) when the codec would run on one; lowered on CPU-only clusters."""
        device = str(self.options["device"])
        gpu = device.startswith("cuda") or (device == "auto" and not getattr(self, "autoregressive", False))
        return {"cpu": 1.0, "gpu": 1.0} if gpu else {"cpu": 1.0}

    @property
    def device(self) -> torch.device:
        return choose_device(self.options["device"], self.name)

    def requirements(self) -> list[Requirement]:
        reqs = []
        dev = self.device
        if dev.type == "cuda":
            ok = torch.cuda.is_available() and (dev.index or 0) < torch.cuda.device_count()
            reqs.append(Requirement("device", str(dev), ok, "" if ok else "no such CUDA device"))
        metric, ckpt = self.options["metric"], self.options["checkpoint"]
        if metric not in self.spec.metrics:
            reqs.append(Requirement("weights", f"{self.name} {metric}", False, "the zoo has no such model"))
            return reqs
        if ckpt is None and self.options["weights"] == "untrained":
            detail = f"untrained (seed {UNTRAINED_SEED}): for tests and speed only, not a baseline"
            return [*reqs, Requirement("weights", self.name, True, detail)]
        for q in self.spec.qualities:
            path = weights_file(self.spec, metric, q, self.options["weights"], ckpt)
            present = path is not None and path.is_file()
            can_fetch = ckpt is None and self.options["download"]
            detail = str(path) if present or not can_fetch else f"{path} (downloads on first use)"
            name = f"{self.name} {metric} q{q}"
            reqs.append(Requirement("weights", name, present or can_fetch, detail, str(path or "")))
        return reqs

    def model(self, metric: str, quality: int) -> tuple[torch.nn.Module, bytes]:
        """The model for (metric, quality) on this codec's device, with its weights fingerprint.

        Only the last model is kept: a run codes one rate point at a time, and the largest zoo models
        weigh hundreds of megabytes.
        """
        key = (metric, quality)
        if key not in self._models:
            self._models.clear()
            m = load_model(
                self.spec,
                metric,
                quality,
                self.options["weights"],
                self.options["checkpoint"],
                self.options["download"],
            )
            fp = fingerprint(m)
            self._models[key] = (m.to(self.device), fp)
        return self._models[key]

    def check_format(self, fmt: VideoFormat) -> None:
        super().check_format(fmt)
        w, h = F.padded_size(fmt, self.spec.multiple)
        if w > 0xFFFF or h > 0xFFFF:
            raise CodecbenchError(f"{self.name}: {fmt} is too large")

    def _gop(self) -> int:
        """Frames per GOP written in the header: 1 for image models (every frame intra)."""
        return 1

    def _batch(self) -> int:
        """Frames per ``compress()`` call; the decoder batches exactly alike (see ``image.py``)."""
        return 1

    def _progress(self, total: int, what: str) -> tqdm:
        disable = None if self.options["progress"] else True
        return tqdm(total=total, desc=f"{self.label} {what}", unit="frame", disable=disable, leave=False)

    # -- encoding ----------------------------------------------------------------------------------

    def encode(self, clip: Clip, rate_point: str, workdir: Path) -> Path:
        path, _ = self._encode(clip, rate_point, Path(workdir), keep_reconstruction=False)
        return path

    def encode_with_reconstruction(
        self, clip: Clip, rate_point: str, workdir: Path
    ) -> tuple[Path, list[Frame]]:
        """Encode, and return the frames the encoder side reconstructs (what the decoder must output)."""
        return self._encode(clip, rate_point, Path(workdir), keep_reconstruction=True)

    def _encode(
        self, clip: Clip, rate_point: str, workdir: Path, keep_reconstruction: bool
    ) -> tuple[Path, list[Frame]]:
        fmt = clip.format
        self.check_format(fmt)
        quality = self._quality(rate_point)
        if clip.frames < 1:
            raise CodecbenchError(f"{self.name}: clip {clip.name} has no frames")
        metric = self.options["metric"]
        model, fp = self.model(metric, quality)
        pw, ph = F.padded_size(fmt, self.spec.multiple)
        header = Header(
            self.name, metric, quality, clip.frames, fmt.width, fmt.height, fmt.bit_depth, fmt.matrix,
            pw, ph, self._gop(), self._batch(), fp,
        )  # fmt: skip
        workdir.mkdir(parents=True, exist_ok=True)
        path = workdir / f"{clip.name}.q{quality}{self.bitstream_suffix}"
        recon: list[Frame] = []
        state: Any = None
        with (
            open(path, "wb") as f,
            deterministic(self.options["threads"]),
            self._progress(clip.frames, f"q{quality} encode") as bar,
        ):
            writer = BitstreamWriter(f, header)
            for start, group in _groups(clip.read(), header.batch):
                packets, rec, state = self._encode_group(
                    model, header, start, group, state, keep_reconstruction
                )
                for packet in packets:
                    writer.write(packet)
                recon.extend(rec)
                bar.update(len(group))
            if writer.packets != clip.frames:
                raise CodecbenchError(f"{clip.name}: read {writer.packets} of {clip.frames} frames")
            writer.close()
        return path, recon

    def _encode_group(
        self, model: torch.nn.Module, header: Header, start: int, frames: list[Frame], state: Any, keep: bool
    ) -> tuple[list[Packet], list[Frame], Any]:
        """Code frames ``start, start + 1, ...`` (one batch); return their packets, the encoder side's
        reconstructions when ``keep``, and the state the next group needs (the reference frame)."""
        raise NotImplementedError

    # -- decoding ----------------------------------------------------------------------------------

    def decode(self, bitstream: Path, workdir: Path) -> Iterator[Frame]:
        bitstream = Path(bitstream)
        try:
            data = bitstream.read_bytes()
        except OSError as e:
            raise BitstreamError(f"{bitstream}: cannot read ({e.strerror})") from None
        header, packets = read_bitstream(data, str(bitstream))
        if header.model != self.name:
            raise BitstreamError(f"{bitstream}: written by {header.model!r}, not {self.name!r}")
        try:
            fmt = VideoFormat(header.width, header.height, header.bit_depth)
        except CodecbenchError as e:
            raise BitstreamError(f"{bitstream}: corrupt header ({e})") from None
        if (header.padded_width, header.padded_height) != F.padded_size(fmt, self.spec.multiple):
            raise BitstreamError(f"{bitstream}: corrupt header (padded size does not match {fmt})")
        if header.quality not in self.spec.qualities or header.metric not in self.spec.metrics:
            raise BitstreamError(f"{bitstream}: no {header.metric} model of quality {header.quality}")
        try:
            model, fp = self.model(header.metric, header.quality)
        except CodecUnavailableError as e:
            raise CodecUnavailableError(f"cannot decode {bitstream}: {e}") from None
        if fp != header.weights:
            raise BitstreamError(
                f"{bitstream}: encoded with other weights (fingerprint {header.weights.hex()}) than "
                f"{self.label} q{header.quality} loads ({fp.hex()}); decode with the encoder's weights"
            )
        return self._decode_all(model, header, packets)

    def _decode_all(self, model: torch.nn.Module, header: Header, packets: list[Packet]) -> Iterator[Frame]:
        """Decode group by group; torch's global modes are set only while a group is computed, never
        while the caller holds a yielded frame."""
        state: Any = None
        with self._progress(header.frames, f"q{header.quality} decode") as bar:
            for start, group in _groups(iter(packets), header.batch):
                with deterministic(self.options["threads"]):
                    frames, state = self._decode_group(model, header, start, group, state)
                for frame in frames:
                    bar.update(1)
                    yield frame

    def _decode_group(
        self, model: torch.nn.Module, header: Header, start: int, packets: list[Packet], state: Any
    ) -> tuple[list[Frame], Any]:
        """Decode the packets of frames ``start, start + 1, ...``; return frames and the next state."""
        raise NotImplementedError

    @staticmethod
    def _format(header: Header) -> VideoFormat:
        return VideoFormat(header.width, header.height, header.bit_depth)


def _groups(items: Iterator[Any], size: int) -> Iterator[tuple[int, list[Any]]]:
    """Consecutive groups of ``size`` items with the index of their first."""
    group: list[Any] = []
    start = 0
    for i, item in enumerate(items):
        if not group:
            start = i
        group.append(item)
        if len(group) == size:
            yield start, group
            group = []
    if group:
        yield start, group
