"""FID and KID over a dataset, on 256x256 patches of the frames (HiFiC's practice, also DiV-INR's).

For each sequence, :meth:`features` cuts every frame (every ``frame_step``-th) of the reference and
of the decoded clip into 256x256 patches: a non-overlapping grid from the top-left corner plus the
same grid shifted by 128 pixels in both directions (Mentzer et al. 2020, HiFiC). No resizing: the
patches are at the frame's own resolution, so frames smaller than 256x256 do not fit (smaller or
fewer patches would give numbers not comparable with published ones; such datasets get no FID).

Each patch goes through the standard FID network, Inception-v3 ``pt_inception-2015-12-05``
(torch-fidelity's port, the one torchmetrics uses; it resizes to 299x299 internally), giving 2048
pool features. The runner saves the per-sequence features; :meth:`aggregate` pools those of every
sequence of a dataset for one codec and rate point and computes

- FID: Frechet distance of Gaussians fitted to reference and decoded features, in float64
  (:func:`frechet_distance`; agrees with torch-fidelity's ``fid_statistics_to_metric``, faster);
- KID: unbiased squared MMD with the cubic polynomial kernel, mean over 100 random subsets of
  ``min(1000, n)`` patches (torch-fidelity's ``kid_features_to_metric``, fixed seed).

FID is biased upwards when there are few patches (it needs thousands to be stable); KID is
unbiased. Lower is better for both.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from codecbench.errors import CodecbenchError
from codecbench.metrics.nets import (
    NET_OPTIONS,
    PATCH,
    NetMetric,
    check_pair,
    extract_patches,
    patch_origins,
    rgb_tensor,
)
from codecbench.options import Option
from codecbench.video import Clip, Frame, VideoFormat
from codecbench.weights import WEIGHTS

FEATURE_DIM = 2048

#: How many clips' reference features the process remembers.
REFERENCE_CACHE_SIZE = 4
_REFERENCE_FEATURES: dict[tuple, np.ndarray] = {}


def _weights_key() -> tuple[str, int | None]:
    path = WEIGHTS["inception_fid"].path
    return str(path), (path.stat().st_mtime_ns if path.exists() else None)


def _trace_sqrt_product(x: np.ndarray, y: np.ndarray, cov_x: np.ndarray, cov_y: np.ndarray) -> float:
    """tr sqrt(cov_x cov_y) for the sample covariances of feature rows ``x`` and ``y``.

    With fewer samples than dimensions the covariances are low-rank and the nonzero eigenvalues of
    cov_x cov_y are the squared singular values of xc yc^T / sqrt((n-1)(m-1)) (xc, yc centred),
    an n x m problem. Otherwise cov_x^1/2 cov_y cov_x^1/2 is symmetric with the same eigenvalues,
    which ``eigh`` finds several times faster than the general ``eigvals`` of the product.
    """
    n, m, d = len(x), len(y), x.shape[1]
    if min(n, m) <= d:
        xc, yc = x - x.mean(axis=0), y - y.mean(axis=0)
        sv = np.linalg.svd(xc @ yc.T, compute_uv=False)
        return float(sv.sum() / np.sqrt((n - 1) * (m - 1)))
    w, v = np.linalg.eigh(cov_x)
    root = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    return float(np.sqrt(np.clip(np.linalg.eigvalsh(root @ cov_y @ root), 0, None)).sum())


def frechet_distance(x: np.ndarray, y: np.ndarray) -> float:
    """Frechet distance of Gaussians fitted to feature rows ``x`` and ``y`` (the FID formula).

    |mu_x - mu_y|^2 + tr(cov_x) + tr(cov_y) - 2 tr sqrt(cov_x cov_y), in float64; equal to
    torch-fidelity's ``fid_statistics_to_metric`` (tested) but exact and fast in both regimes.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    cov_x, cov_y = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    diff = x.mean(axis=0) - y.mean(axis=0)
    tr = _trace_sqrt_product(x, y, cov_x, cov_y)
    return float(diff @ diff + np.trace(cov_x) + np.trace(cov_y) - 2 * tr)


class _InceptionPatches(NetMetric):
    """Extracts Inception pool features of the 256x256 patches of a clip."""

    kind = "distribution"
    higher_is_better = False
    input = "rgb"
    min_size = (PATCH, PATCH)
    options_spec = {
        **NET_OPTIONS,
        "batch_size": Option(32, "patches per forward pass", int),
        "shifted": Option(True, "add the grid of patches shifted by 128 pixels (HiFiC)", bool),
        "frame_step": Option(1, "use every n-th frame (1: all)", int),
    }
    network_id = "inception_fid"

    def __init__(self, **options: object) -> None:
        super().__init__(**options)
        if self.options["frame_step"] < 1 or self.options["batch_size"] < 1:
            raise CodecbenchError(f"{self.name}: frame_step and batch_size must be at least 1")

    def build(self) -> torch.nn.Module:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        path = WEIGHTS["inception_fid"].path
        return FeatureExtractorInceptionV3(
            "inception-v3-compat", [str(FEATURE_DIM)], feature_extractor_weights_path=str(path)
        )

    def _frames(self, clip: Clip) -> Iterator[Frame]:
        step = self.options["frame_step"]
        for i, frame in enumerate(clip.read()):
            if i % step == 0:
                yield frame

    def _patch_batches(self, clip: Clip) -> Iterator[torch.Tensor]:
        fmt: VideoFormat = clip.format
        origins = patch_origins(fmt.height, fmt.width, PATCH, self.options["shifted"])
        size = self.options["batch_size"]
        pending: list[torch.Tensor] = []
        count = 0
        for frame in self._frames(clip):
            rgb = torch.round(rgb_tensor([frame], fmt) * 255).to(torch.uint8)
            patches = extract_patches(rgb, origins)
            pending.append(patches)
            count += len(patches)
            while count >= size:
                allp = torch.cat(pending)
                yield allp[:size]
                pending, count = [allp[size:]], count - size
        if count:
            yield torch.cat(pending)

    def clip_features(self, clip: Clip) -> np.ndarray:
        """Inception features (n_patches x 2048, float32) of every patch of ``clip``."""
        self.check_size(clip.format)
        net = self.net()
        out = []
        with torch.inference_mode():
            for batch in self._patch_batches(clip):
                feats = net(batch.to(self.device))[0]
                out.append(feats.float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, FEATURE_DIM), np.float32)

    def _reference_features(self, clip: Clip) -> np.ndarray:
        """Reference features, remembered per file so the runner's many jobs on one clip pay once.

        The cache lives in the process (the runner makes a metric per job) and holds the last
        :data:`REFERENCE_CACHE_SIZE` clips.
        """
        st = clip.path.stat()
        opts = (self.options["shifted"], self.options["frame_step"])
        key = (
            str(clip.path.resolve()),
            clip.format,
            clip.frames,
            st.st_size,
            st.st_mtime_ns,
            opts,
            _weights_key(),
        )
        if key not in _REFERENCE_FEATURES:
            while len(_REFERENCE_FEATURES) >= REFERENCE_CACHE_SIZE:
                _REFERENCE_FEATURES.pop(next(iter(_REFERENCE_FEATURES)))
            _REFERENCE_FEATURES[key] = self.clip_features(clip)
        return _REFERENCE_FEATURES[key]

    def features(self, ref: Clip, dist: Clip) -> dict[str, np.ndarray]:
        """``{"ref": ..., "dist": ...}``: patch features of the reference and of the decoded clip."""
        check_pair(ref, dist)
        return {"ref": self._reference_features(ref), "dist": self.clip_features(dist)}

    def aggregate(self, features: list[dict[str, np.ndarray]]) -> float:
        if not features:
            raise CodecbenchError(f"{self.name}: no sequences to aggregate")
        ref = np.concatenate([f["ref"] for f in features]).astype(np.float64)
        dist = np.concatenate([f["dist"] for f in features]).astype(np.float64)
        if min(len(ref), len(dist)) < 2:
            raise CodecbenchError(
                f"{self.name} needs at least 2 patches per side, got {len(ref)} and {len(dist)}"
            )
        return self.distance(ref, dist)

    def distance(self, ref: np.ndarray, dist: np.ndarray) -> float:
        raise NotImplementedError


class FID(_InceptionPatches):
    name = "fid"
    display_name = "FID"
    display_order = 80
    value_range = (0.0, 1e5)
    description = "FID on 256x256 patches over a dataset (Inception pt_inception-2015-12-05)"

    def distance(self, ref: np.ndarray, dist: np.ndarray) -> float:
        return frechet_distance(ref, dist)


class KID(_InceptionPatches):
    name = "kid"
    display_name = "KID"
    display_order = 90
    value_range = (-1.0, 1e3)
    description = "KID on 256x256 patches over a dataset (polynomial kernel, 100 subsets)"
    options_spec = {
        **_InceptionPatches.options_spec,
        "subsets": Option(100, "number of random subsets", int),
        "subset_size": Option(1000, "patches per subset (capped by the number of patches)", int),
    }

    def distance(self, ref: np.ndarray, dist: np.ndarray) -> float:
        from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, kid_features_to_metric

        size = min(self.options["subset_size"], len(ref), len(dist))
        out = kid_features_to_metric(
            torch.from_numpy(ref),
            torch.from_numpy(dist),
            kid_subsets=self.options["subsets"],
            kid_subset_size=size,
            verbose=False,
        )
        return float(out[KEY_METRIC_KID_MEAN])
