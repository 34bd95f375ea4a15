"""DiV-INR's shipped ``mini`` prior: weights and card, training data, the training command, ablation."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
from codecbench_divinr.backbone import MINI_DIR, MINI_SCHEDULE, load_backbone, mini_revision
from codecbench_divinr.trainset import EXCLUDED, TrainClips, sources

from codecbench.datasets.natural import RECIPES

pytestmark = pytest.mark.filterwarnings("ignore")


def test_mini_ships_in_the_svd_layout_within_25_mb() -> None:
    weights = sorted(MINI_DIR.glob("*/*.safetensors"))
    assert {w.parent.name for w in weights} == {"unet", "vae", "shared"}
    assert (MINI_DIR / "scheduler" / "scheduler_config.json").is_file()
    assert sum(w.stat().st_size for w in weights) <= 25 * 2**20
    bb = load_backbone("mini")
    assert (bb.name, bb.revision) == ("mini", mini_revision()) and bb.is_builtin and not bb.is_tiny
    assert type(bb.unet).__name__ == "UNetSpatioTemporalConditionModel"
    assert type(bb.vae).__name__ == "AutoencoderKLTemporalDecoder"
    assert bb.unet.config.in_channels == 2 * bb.latent_channels and bb.vae_scale == 8
    assert bb.scheduler.config.prediction_type == "v_prediction"


def test_mini_model_card_records_data_licences_command_and_time() -> None:
    card = (MINI_DIR / "README.md").read_text()
    for needle in ("CC-BY 3.0", "CC0", "python -m codecbench_divinr.train_mini", "bigbuckbunny.mp4"):
        assert needle in card, needle
    record = json.loads((MINI_DIR / "training.json").read_text())
    assert record["data"] == sources()
    assert [s["stage"] for s in record["stages"]] == ["vae", "denoiser", "shared"]
    assert all(s["seconds"] > 0 and s["steps"] > 0 for s in record["stages"])
    assert f"{record['total_seconds'] / 60:.0f} min" in card


def test_training_data_never_includes_the_evaluation_clips() -> None:
    evaluation = {Path(r.source.path).name for r in RECIPES}
    training = {Path(s["file"]).name for s in sources()}
    assert evaluation <= set(EXCLUDED) and not evaluation & training
    assert all(s["licence"] for s in sources())
    clips = TrainClips(frames=3, size=64, length=4, seed=5)
    a, b = clips[1], clips[1]
    assert a.shape == (3, 3, 64, 64) and torch.equal(a, b) and -1 <= float(a.min()) <= float(a.max()) <= 1
    assert not torch.equal(clips[0], clips[2])


def test_a_revision_from_other_weights_is_refused() -> None:
    from codecbench.errors import CodecUnavailableError

    with pytest.raises(CodecUnavailableError, match="not this version's"):
        load_backbone("mini", "mini-000000000000")


@pytest.mark.slow
def test_train_mini_command_reproduces_a_loadable_prior(tmp_path: Path) -> None:
    """The training command end to end on a few steps: its folder loads like SVD's, and codes a clip."""
    from codecbench_divinr.train_mini import main

    from codecbench.registry import create_codec
    from tests.test_divinr import make_clip

    out = tmp_path / "prior"
    tiny = ["--trainer.max_steps", "2", "--data.length", "4", "--data.size", "64"]
    assert main(["--out", str(out), "--skip-eval", "--", *tiny]) == 0
    record = json.loads((out / "training.json").read_text())
    assert [s["steps"] for s in record["stages"]] == [2, 2, 2]
    assert (out / "shared" / "adapters.safetensors").is_file()
    assert "python -m codecbench_divinr.train_mini" in record["command"]
    bb = load_backbone(str(out))
    assert bb.vae.config.scaling_factor != 1.0, "the latent scale is calibrated after stage 1"
    clip = make_clip(tmp_path / "c.yuv", 32, 32, 2)
    codec = create_codec(
        "divinr", {"backbone": str(out), "steps": "1", "inference_steps": "1", "progress": "false"}
    )
    path = codec.encode(clip, "xs", tmp_path / "w")
    assert len(list(codec.decode(path, tmp_path / "d"))) == 2


@pytest.mark.slow
def test_ablation_writes_one_tidy_row_per_variant_point_and_metric(tmp_path: Path) -> None:
    from codecbench_divinr.ablation import VARIANTS, main

    args = ["--out", str(tmp_path / "abl"), "--dataset", "sample", "--sequences", "Clouds", "--frames", "2"]
    args += ["--rate-points", "xs", "--metrics", "psnr_y,psnr_rgb", "--workers", "1"]
    args += ["--variants", "inr-vae,no-lora,joint"]
    for opt in ("backbone=tiny", "steps=1", "window=2", "progress=false"):
        args += ["--codec-opt", f"divinr.{opt}"]
    assert main(args) == 0
    table = pd.read_csv(tmp_path / "abl" / "ablation.csv")
    assert set(table.variant) == set(VARIANTS) - {"default"} and set(table.metric) == {"psnr_y", "psnr_rgb"}
    assert not table.duplicated(["variant", "sequence", "rate_point", "metric"]).any() and len(table) == 6
    labels = table.groupby("variant").codec.first()
    assert labels["inr-vae"] == "divinr[tiny,inr-vae]" and labels["joint"] == "divinr[tiny]"
    size = table.groupby("variant").bytes.first()
    assert size["joint"] > size["no-lora"], "the joint variant codes its LoRA adapters too"
    psnr = table[table.metric == "psnr_y"].set_index("variant").value
    assert psnr["inr-vae"] != psnr["no-lora"]
    assert main([*args, "--variants", "nope"]) == 2


def test_fps_conditioning_is_clamped_to_svds_range() -> None:
    from codecbench_divinr.config import DivInrConfig
    from codecbench_divinr.module import DivInrModule

    ids = {
        fps: DivInrModule(DivInrConfig(backbone="tiny", fps=fps), (2, 2), 1).added_time_ids(1)[0].tolist()
        for fps in (1.0, 25.0, 120.0)
    }
    assert [ids[f][0] for f in (1.0, 25.0, 120.0)] == [2.0, 24.0, 29.0]
    assert all(v[1:] == [127.0, 0.0] for v in ids.values())


def test_fast_temporal_convs_compute_the_same_function_and_gradients() -> None:
    from codecbench_divinr.backbone import tiny_backbone
    from codecbench_divinr.fastconv import fast_temporal_convs

    def run(vae: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
        z = torch.randn(4, 4, 6, 5, generator=torch.Generator().manual_seed(0), requires_grad=True)
        out = vae.decode(z, num_frames=4).sample
        (grad,) = torch.autograd.grad(out.square().mean(), z)
        return out, grad

    vae = tiny_backbone(0).vae
    temporal = [m for m in vae.modules() if isinstance(m, torch.nn.Conv3d)]
    ref = run(vae)
    assert fast_temporal_convs(vae) == len(temporal) > 0
    fast = run(vae)
    assert all(torch.allclose(a, b, atol=1e-5, rtol=1e-4) for a, b in zip(ref, fast, strict=True))


def test_mini_codes_with_its_shipped_shared_adapters_and_decodes_without_options(tmp_path: Path) -> None:
    from codecbench_divinr import bitstream
    from codecbench_divinr.module import shared_sha256

    from codecbench.registry import create_codec
    from tests.test_divinr import make_clip

    fast = {"backbone": "mini", "steps": "1", "inference_steps": "1", "progress": "false"}
    codec = create_codec("divinr", fast)
    assert codec.shared_folder() == str(MINI_DIR / "shared")
    assert create_codec("divinr", {**fast, "shared": "none"}).shared_folder() == ""
    assert create_codec("divinr", {**fast, "lora_rank": "8"}).shared_folder() == ""  # trained at rank 4
    assert create_codec("divinr", {**fast, "adapters": "per_video"}).shared_folder() == ""
    path = codec.encode(make_clip(tmp_path / "c.yuv", 32, 32, 2), "xs", tmp_path / "w")
    assert bitstream.read(path).config["shared_sha256"] == shared_sha256(MINI_DIR / "shared")
    assert len(list(create_codec("divinr", {"progress": "false"}).decode(path, tmp_path / "d"))) == 2


def test_x0_strip_of_a_mini_bitstream(tmp_path: Path) -> None:
    """The semantic-to-visual analysis on mini: x0 per kept step, as a tidy table and a captioned strip."""
    import numpy as np
    from codecbench_divinr.analysis import step_analysis, strip

    from codecbench.registry import create_codec
    from tests.test_divinr import make_clip

    clip = make_clip(tmp_path / "c.yuv", 32, 32, 2)
    fast = {"backbone": "mini", "steps": "1", "warmup_steps": "2", "progress": "false"}
    path = create_codec("divinr", fast).encode(clip, "xs", tmp_path / "w")
    images: dict[tuple[int, int], np.ndarray] = {}
    last = MINI_SCHEDULE[1] - 1  # the last Euler step of mini's default
    table = step_analysis(path, clip, [0, last], images=images)
    assert sorted(images) == [(0, 0), (0, 1), (last, 0), (last, 1)]
    assert set(table.step) == {0, last} and (table[table.metric == "psnr_y"].value > 0).all()
    picture = strip(clip, images, table, frame=1)
    assert picture.size == (3 * 32, 32 + 18)
