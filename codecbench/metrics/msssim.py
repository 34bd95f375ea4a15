"""MS-SSIM (Wang, Simoncelli, Bovik 2003) on luma (``ms_ssim_y``) and on RGB (``ms_ssim_rgb``).

The arithmetic is that of ``pytorch-msssim`` (which CompressAI and most learned-codec papers use):
an 11-tap Gaussian window with sigma 1.5 applied separably without padding, K1 = 0.01, K2 = 0.03,
five scales weighted (0.0448, 0.2856, 0.3001, 0.2363, 0.1333), 2x2 average pooling between scales
(zero-padded on odd sizes), negative contrast-structure terms clipped at 0. ``ms_ssim_rgb`` is
the mean of the three channels' MS-SSIM. The tests check agreement with ``pytorch-msssim``.

Speed (about 20x pytorch-msssim's at 1080p on one CPU thread, ``bench/bench_metrics.py``): the
window is applied as banded matrix products over blocks of 32 outputs (BLAS at near peak, where
``conv2d`` with a 1-D kernel is slow), one plane at a time through buffers kept between planes,
scales and frames (fresh 1080p-sized tensors cost more in page faults than the arithmetic), with
x^2 + y^2 filtered as one plane and the contrast-structure map alone computed at the finer
scales. With more threads, planes are shared out among them, one thread each.

The sequence value is the mean of per-frame values. Frames smaller than 161 pixels on a side do
not fit (the coarsest scale would be smaller than the window).
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

import numpy as np
import torch

from codecbench.device import choose_device
from codecbench.metrics import frames
from codecbench.metrics.base import Metric
from codecbench.metrics.nets import NET_OPTIONS, auto_batch
from codecbench.video import Clip, Frame, VideoFormat

WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
WINDOW = 11
SIGMA = 1.5
K1, K2 = 0.01, 0.03
#: Output samples per block of the banded products that apply the window (fastest on CPU).
BLOCK = 32


def gaussian_window(
    size: int = WINDOW, sigma: float = SIGMA, dtype: torch.dtype = torch.float64
) -> torch.Tensor:
    """Normalised 1-D Gaussian of ``size`` taps."""
    coords = torch.arange(size, dtype=dtype) - size // 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return g / g.sum()


class Workspace:
    """Scratch tensors that MS-SSIM reuses across planes, scales and calls.

    A fresh tensor the size of a 1080p plane costs page faults on first touch, more time than
    the arithmetic done on it, so buffers are kept, sized by the largest request so far. One
    call uses a workspace at a time; its worker threads use the workspace's children.
    """

    def __init__(self) -> None:
        self._buffers: dict[str, torch.Tensor] = {}
        self._children: list[Workspace] = []

    def child(self, k: int) -> Workspace:
        """The ``k``-th worker's workspace."""
        while len(self._children) <= k:
            self._children.append(Workspace())
        return self._children[k]

    def get(self, key: str, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        """A contiguous tensor of ``shape`` with ``like``'s dtype and device (contents undefined)."""
        n = math.prod(shape)
        buf = self._buffers.get(key)
        if buf is None or buf.numel() < n or buf.dtype != like.dtype or buf.device != like.device:
            buf = self._buffers[key] = torch.empty(n, dtype=like.dtype, device=like.device)
        return buf[:n].view(shape)


@functools.lru_cache(maxsize=32)
def _band(block: int, dtype: torch.dtype, device: torch.device, scale: float = 1.0) -> torch.Tensor:
    """The ``block`` x ``block + WINDOW - 1`` matrix whose row i holds the window at column i.

    It maps ``block + WINDOW - 1`` consecutive samples to the ``block`` outputs of 'valid'
    filtering, so the filter becomes dense matrix products over blocks: near BLAS peak on one
    thread, unlike ``conv2d`` with 1-D kernels or a pass per tap. ``scale`` multiplies the taps.
    """
    taps = (gaussian_window(dtype=torch.float32) * scale).tolist()  # pytorch-msssim's float32 taps
    band = torch.zeros(block, block + WINDOW - 1, dtype=dtype)
    for k, tap in enumerate(taps):
        band.diagonal(k).fill_(tap)
    return band.to(device)


def _filter_rows(src: torch.Tensor, band: torch.Tensor, out: torch.Tensor) -> None:
    """'Valid' filtering of a contiguous HxW plane down its columns into ``out`` ((H-10)xW)."""
    block = band.shape[0]
    height = out.shape[0]
    full = height // block * block
    if full:
        windows = src.unfold(0, block + WINDOW - 1, block).transpose(1, 2)  # a view, no copy
        torch.matmul(band, windows, out=out[:full].view(-1, block, out.shape[1]))
    if full < height:
        rest = height - full
        torch.matmul(band[:rest, : rest + WINDOW - 1], src[full:], out=out[full:])


def _filter_cols(planes: torch.Tensor, band: torch.Tensor, ws: Workspace) -> list[torch.Tensor]:
    """'Valid' filtering of contiguous PxHxW planes along their rows.

    The result comes as parts, each Px... holding some output samples of every plane in a
    blocked order (the same for every plane): what sums and elementwise arithmetic need,
    without copying the products back into rows.
    """
    p, h, w = planes.shape
    block = band.shape[0]
    width = w - WINDOW + 1
    full = width // block * block
    rows = planes.view(p * h, w)
    parts = []
    if full:
        windows = rows.unfold(1, block + WINDOW - 1, block).transpose(0, 1)  # n x PH x (block+10)
        out = ws.get("cols", (full // block, p * h, block), planes)
        torch.bmm(windows, band.t().expand(out.shape[0], -1, -1), out=out)
        parts.append(out.view(-1, p, h * block).transpose(0, 1))
    if full < width:
        rest = width - full
        out = ws.get("cols_rest", (p * h, rest), planes)
        torch.mm(rows[:, full:], band[:rest, : rest + WINDOW - 1].t(), out=out)
        parts.append(out.view(p, h * rest))
    return parts


def _pool(src: torch.Tensor, key: str, ws: Workspace) -> torch.Tensor:
    """2x2 average of a contiguous plane, zero-padded at the top and left on odd sizes.

    The arithmetic (order of the sum included) of ``F.avg_pool2d(x, 2, padding=size % 2)``,
    which pytorch-msssim uses between scales, written into a reused buffer.
    """
    h, w = src.shape
    ph, pw = h % 2, w % 2
    if ph or pw:
        padded = ws.get("pad", (h + ph, w + pw), src)
        padded[:ph].zero_()
        padded[:, :pw].zero_()
        padded[ph:, pw:] = src
        src, h, w = padded, h + ph, w + pw
    quads = src.view(h // 2, 2, w // 2, 2)
    out = torch.add(quads[:, 0, :, 0], quads[:, 0, :, 1], out=ws.get(key, (h // 2, w // 2), src))
    return out.add_(quads[:, 1, :, 0]).add_(quads[:, 1, :, 1]).mul_(0.25)


def _scale_terms(x: torch.Tensor, y: torch.Tensor, ws: Workspace, last: bool) -> torch.Tensor:
    """Mean contrast-structure term of two HxW planes at one scale, or, at the ``last``
    scale, their mean SSIM (the only scale where MS-SSIM uses it); a 0-d tensor."""
    h, w = x.shape
    band = _band(BLOCK, x.dtype, x.device)
    filtered = ws.get("rows", (4, h - WINDOW + 1, w), x)
    tmp = ws.get("tmp", (h, w), x)
    _filter_rows(x, band, filtered[0])
    _filter_rows(y, band, filtered[1])
    _filter_rows(torch.mul(x, x, out=tmp).addcmul_(y, y), band, filtered[2])
    # 2xy with doubled taps (exact), which saves a pass over the plane.
    _filter_rows(torch.mul(x, y, out=tmp), _band(BLOCK, x.dtype, x.device, 2.0), filtered[3])
    c1, c2 = K1**2, K2**2
    total = x.new_zeros(())
    for part in _filter_cols(filtered, band, ws):
        mu1, mu2, squares, products2 = part.unbind(0)
        num = torch.addcmul(products2, mu1, mu2, value=-2, out=ws.get("num", mu1.shape, x)).add_(c2)
        den = torch.addcmul(squares, mu1, mu1, value=-1, out=ws.get("den", mu1.shape, x))
        cs = num.div_(den.addcmul_(mu2, mu2, value=-1).add_(c2))
        if last:
            cs *= (2 * mu1 * mu2 + c1) / (mu1 * mu1 + mu2 * mu2 + c1)
        total += cs.sum()
    return total / ((h - WINDOW + 1) * (w - WINDOW + 1))


def _fp32_matmul_is_exact(device: torch.device) -> bool:
    """Whether float32 matrix products on ``device`` keep float32 precision (no TF32/bfloat16).

    ``torch.set_float32_matmul_precision("high")`` or ``("medium")``, which a codec or a
    library may call in the same process, would otherwise cost MS-SSIM its agreement.
    """
    if device.type == "cuda":
        backend = torch.backends.cuda.matmul
    elif device.type == "cpu":
        backend = torch.backends.mkldnn.matmul
    else:
        return True
    precision = getattr(backend, "fp32_precision", None)
    if precision is None:
        return torch.get_float32_matmul_precision() == "highest"
    return precision in ("none", "ieee")


def _plane_terms(x: torch.Tensor, y: torch.Tensor, dtype: torch.dtype, ws: Workspace) -> torch.Tensor:
    """The five scale terms of two HxW planes: the mean contrast-structure term of the four
    finer scales, then the mean SSIM of the coarsest."""
    with torch.inference_mode():  # the workspace's buffers are written in place
        x, y = x.to(dtype).contiguous(), y.to(dtype).contiguous()
        terms = []
        for level in range(len(WEIGHTS)):
            last = level == len(WEIGHTS) - 1
            terms.append(_scale_terms(x, y, ws, last))
            if not last:
                x, y = _pool(x, f"x{level}", ws), _pool(y, f"y{level}", ws)
        return torch.stack(terms)


@contextlib.contextmanager
def _one_intra_op_thread() -> Iterator[None]:
    """Within the block, torch runs each operation on one thread (then restores its setting)."""
    saved = torch.get_num_threads()
    if saved == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def _all_plane_terms(
    xs: torch.Tensor, ys: torch.Tensor, dtype: torch.dtype, ws: Workspace
) -> list[torch.Tensor]:
    """:func:`_plane_terms` of every pair of planes of two PxHxW stacks.

    On the CPU, planes are shared out among up to ``torch.get_num_threads()`` threads, each
    running torch on one thread. Short operations split across threads spend their time at
    barriers (badly so beside other busy processes, when OpenMP threads spin), and one thread
    per plane does not; it also makes the values the same whatever the thread count.
    """
    if xs.device.type != "cpu":
        return [_plane_terms(x, y, dtype, ws) for x, y in zip(xs, ys, strict=True)]
    workers = min(torch.get_num_threads(), len(xs))
    with _one_intra_op_thread():
        if workers <= 1:
            return [_plane_terms(x, y, dtype, ws) for x, y in zip(xs, ys, strict=True)]
        out: list[torch.Tensor] = [xs.new_empty(0)] * len(xs)

        def share(k: int) -> None:
            for i in range(k, len(xs), workers):
                out[i] = _plane_terms(xs[i], ys[i], dtype, ws.child(k))

        with ThreadPoolExecutor(workers, initializer=torch.set_num_threads, initargs=(1,)) as pool:
            for done in [pool.submit(share, k) for k in range(workers)]:
                done.result()
        return out


def ms_ssim(x: torch.Tensor, y: torch.Tensor, workspace: Workspace | None = None) -> torch.Tensor:
    """MS-SSIM of each picture of two batches (BxCxHxW, values in [0, 1]); returns B values.

    Channels are scored separately and averaged. Equals ``pytorch_msssim.ms_ssim(x, y,
    data_range=1, size_average=False)`` to float32 rounding: the same window, constants,
    weights and pooling, with the Gaussian applied as banded matrix products, one plane at a
    time through reused buffers (``workspace``: pass one to reuse them across calls).
    """
    if min(x.shape[-2:]) <= (WINDOW - 1) * 2 ** (len(WEIGHTS) - 1):
        raise ValueError(f"MS-SSIM needs pictures larger than 160x160, got {tuple(x.shape[-2:])}")
    b, c, h, w = x.shape
    dtype = x.dtype if x.dtype == torch.float64 or _fp32_matmul_is_exact(x.device) else torch.float64
    terms = _all_plane_terms(x.reshape(b * c, h, w), y.reshape(b * c, h, w), dtype, workspace or Workspace())
    with torch.inference_mode():
        weights = torch.tensor(WEIGHTS, dtype=dtype, device=x.device)
        values = torch.prod(torch.relu(torch.stack(terms)) ** weights, dim=1)
        return values.view(b, c).mean(dim=1).to(x.dtype)


class _MSSSIM(Metric):
    """Streams frame pairs into batches of pictures in [0, 1] and scores them."""

    unit = ""
    value_range = (0.0, 1.0)
    frame_local = True
    #: Pictures per frame that :meth:`_fill` writes.
    channels: ClassVar[int] = 1
    min_size = (161, 161)
    options_spec = NET_OPTIONS

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        #: Buffers kept across calls (the harness calls once per chunk of frames).
        self._workspace = Workspace()

    def fits(self, fmt: VideoFormat) -> bool:
        return fmt.width > 160 and fmt.height > 160

    def _fill(self, frame: Frame, fmt: VideoFormat, out: np.ndarray) -> None:
        """Write the frame's pictures in [0, 1] into ``out`` (``channels`` x H x W float32)."""
        raise NotImplementedError

    def evaluate(self, ref: Clip, dist: Clip) -> np.ndarray:
        device = choose_device(self.options["device"], self.name, require=True)
        fmt = ref.format
        size = auto_batch(fmt, self.options["batch_size"], pixels_per_batch=1 << 22)
        if device.type == "cpu" and not self.options["batch_size"]:  # a plane per thread at least
            size = max(size, -(-torch.get_num_threads() // self.channels))
        workspace = self._workspace
        x = workspace.get("frames_x", (size, self.channels, fmt.height, fmt.width), torch.empty(0))
        y = workspace.get("frames_y", x.shape, x)
        out: list[np.ndarray] = []

        def score(n: int) -> None:
            values = ms_ssim(x[:n].to(device), y[:n].to(device), workspace)
            out.append(values.double().cpu().numpy())

        n = 0
        with torch.inference_mode():
            for r, d in frames.frame_pairs(ref, dist):
                self._fill(r, fmt, x[n].numpy())
                self._fill(d, fmt, y[n].numpy())
                n += 1
                if n == size:
                    score(n)
                    n = 0
            if n:
                score(n)
        return np.concatenate(out) if out else np.zeros(0)


class MSSSIMY(_MSSSIM):
    name = "ms_ssim_y"
    display_name = "MS-SSIM-Y"
    display_order = 40
    description = "MS-SSIM of the luma plane, mean over frames"

    def _fill(self, frame: Frame, fmt: VideoFormat, out: np.ndarray) -> None:
        np.divide(frame.y, np.float32(fmt.max_value), out=out[0], dtype=np.float32)


class MSSSIMRGB(_MSSSIM):
    name = "ms_ssim_rgb"
    display_name = "MS-SSIM-RGB"
    description = "MS-SSIM of R, G and B (mean of the three), mean over frames"
    input = "rgb"
    channels = 3

    def _fill(self, frame: Frame, fmt: VideoFormat, out: np.ndarray) -> None:
        out[...] = frames.rgb(frame, fmt).transpose(2, 0, 1)
