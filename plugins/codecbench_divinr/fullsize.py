"""The full-size SVD-XT backbone with random weights: the real shapes, checked without the real weights.

For tests and benchmarks only (``tests/test_divinr_fullsize.py``, ``bench/bench_divinr.py --full-size``):
no download is needed, nothing here is ever used to code a real bitstream. :func:`install` puts
a backbone in the per-process cache that :func:`codecbench_divinr.backbone.get_backbone` reads, so
``DivInrModule``, the encoder and the decoder build on it exactly as on a loaded checkpoint.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from diffusers import AutoencoderKLTemporalDecoder, EulerDiscreteScheduler, UNetSpatioTemporalConditionModel

from codecbench_divinr import backbone as backbone_mod
from codecbench_divinr.backbone import SVD_SCHEDULER, TINY_VAE, Backbone

#: unet/config.json of stabilityai/stable-video-diffusion-img2vid-xt; these are also the defaults of
#: diffusers' UNetSpatioTemporalConditionModel (a test checks that they agree).
SVD_XT_UNET = dict(
    sample_size=96,
    in_channels=8,
    out_channels=4,
    down_block_types=(
        "CrossAttnDownBlockSpatioTemporal",
        "CrossAttnDownBlockSpatioTemporal",
        "CrossAttnDownBlockSpatioTemporal",
        "DownBlockSpatioTemporal",
    ),
    up_block_types=(
        "UpBlockSpatioTemporal",
        "CrossAttnUpBlockSpatioTemporal",
        "CrossAttnUpBlockSpatioTemporal",
        "CrossAttnUpBlockSpatioTemporal",
    ),
    block_out_channels=(320, 640, 1280, 1280),
    addition_time_embed_dim=256,
    projection_class_embeddings_input_dim=768,
    layers_per_block=2,
    cross_attention_dim=1024,
    transformer_layers_per_block=1,
    num_attention_heads=(5, 10, 20, 20),
    num_frames=25,
)

#: vae/config.json of stable-video-diffusion-img2vid(-xt) (AutoencoderKLTemporalDecoder).
SVD_VAE = dict(
    in_channels=3,
    out_channels=3,
    down_block_types=("DownEncoderBlock2D",) * 4,
    block_out_channels=(128, 256, 512, 512),
    layers_per_block=2,
    latent_channels=4,
    sample_size=768,
    scaling_factor=0.18215,
    force_upcast=True,
)

NAME = "svd-xt-random"
REVISION = "random"


class SharedWeightsBackbone(Backbone):
    """A backbone whose copies share its weight tensors.

    ``get_backbone`` hands every user a deep copy (LoRA injection changes the module tree); for a
    1.5 B-parameter UNet that is 6 GB more per copy. Here a copy gets its own modules but the same
    (frozen) parameters and buffers, so an encoder and a decoder module cost one set of weights.
    Moving or casting one copy's weights moves or casts them in all.
    """

    def __deepcopy__(self, memo: dict) -> Backbone:
        for m in (self.unet, self.vae):
            for t in itertools.chain(m.parameters(), m.buffers()):
                memo[id(t)] = t
        return Backbone(
            copy.deepcopy(self.unet, memo),
            copy.deepcopy(self.vae, memo),
            copy.deepcopy(self.scheduler, memo),
            self.name,
            self.revision,
        )


def full_size_backbone(seed: int = 0, vae: str = "tiny", frames: int = 25) -> SharedWeightsBackbone:
    """SVD-XT's UNet (``frames``: its ``num_frames``, 25) with random weights drawn from ``seed``,
    and the SVD VAE (``vae="svd"``) or the tiny one (``"tiny"``, 4 latent channels like SVD's)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = UNetSpatioTemporalConditionModel(**dict(SVD_XT_UNET, num_frames=frames))
        vae_model = AutoencoderKLTemporalDecoder(**(SVD_VAE if vae == "svd" else TINY_VAE))
    bb = SharedWeightsBackbone(unet, vae_model, EulerDiscreteScheduler(**SVD_SCHEDULER), NAME, REVISION)
    return bb.freeze()


@contextmanager
def install(bb: Backbone) -> Iterator[Backbone]:
    """Make ``get_backbone(bb.name, bb.revision)`` return copies of ``bb`` for the duration."""
    key = (bb.name, bb.revision, 0)
    backbone_mod._LOADED[key] = bb
    try:
        yield bb
    finally:
        backbone_mod._LOADED.pop(key, None)
