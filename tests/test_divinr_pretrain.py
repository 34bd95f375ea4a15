"""Pre-training of DiV-INR's shared components: per-clip INRs, Reptile initialisation, LightningCLI."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from codecbench import CodecbenchError

pytest.importorskip("lightning")
pytest.importorskip("diffusers")

SIZE = 64  # pixels; latents 8x8
INR = {"freqs": 4, "stem": 8, "channels": [4, 4]}


def vimeo_folder(root: Path, clips: int = 3) -> Path:
    """A Vimeo-90k-layout folder of ``clips`` septuplets of distinct content (smooth gradients)."""
    from torchvision.io import write_png

    names = []
    ramp = torch.linspace(0, 1, SIZE)
    for s in range(clips):
        d = root / "sequences" / f"0000{s + 1}" / "0001"
        d.mkdir(parents=True)
        for k in range(7):
            img = torch.stack(
                [
                    ramp[None, :].expand(SIZE, SIZE) * (s + 1) / clips,
                    ramp[:, None].expand(SIZE, SIZE) * (1 - s / clips),
                    torch.full((SIZE, SIZE), (k / 7 + s / clips) % 1.0),
                ]
            )
            write_png((img * 255).round().to(torch.uint8), str(d / f"im{k + 1}.png"))
        names.append(f"0000{s + 1}/0001")
    (root / "sep_trainlist.txt").write_text("\n".join(names) + "\n")
    return root


def write_cfg(tmp_path: Path, root: Path, shared: Path, **model: object) -> Path:
    save = {"class_path": "codecbench_divinr.pretrain.SaveShared", "init_args": {"folder": str(shared)}}
    trainer = {"max_steps": 2, "accelerator": "cpu", "logger": False, "enable_checkpointing": False}
    trainer |= {"enable_progress_bar": False, "enable_model_summary": False, "callbacks": [save]}
    trainer |= {"default_root_dir": str(tmp_path / "run")}
    m = {"config": {"backbone": "tiny", "inr": INR, "window": 7}, "latent_hw": [SIZE // 8, SIZE // 8]}
    m |= {"pixels": SIZE * SIZE * 7, "inner_steps": 8, "meta_lr": 0.5} | model
    cfg = {"seed_everything": 0, "trainer": trainer, "model": m}
    cfg["data"] = {"root": str(root), "batch_size": 2}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_pretrain_fits_per_clip_inrs_and_meta_learns_their_init(tmp_path: Path) -> None:
    from codecbench_divinr.config import DivInrConfig, InrSize
    from codecbench_divinr.module import DivInrModule
    from codecbench_divinr.pretrain import PretrainShared, main, plain_inr_state
    from safetensors.torch import load_file

    root = vimeo_folder(tmp_path / "vimeo", clips=2)  # batch_size 2: every batch holds both
    shared = tmp_path / "shared"
    hw = (SIZE // 8, SIZE // 8)
    # The same seeded config draws the same initial LoRA and INR: the reference "before" values.
    before = DivInrModule(DivInrConfig(backbone="tiny", inr=InrSize(**INR), window=7), hw, 1, "pretrain")
    lora_before = {k: v.clone() for k, v in before.unet.state_dict().items() if "lora_" in k}
    init_before = plain_inr_state(before.inr)

    cli = main(["fit", "--config", str(write_cfg(tmp_path, root, shared))])
    model = cli.model
    assert isinstance(model, PretrainShared)
    assert cli.trainer.global_step == 2  # one shared step per batch

    for name in ("adapters.safetensors", "context.safetensors", "inr_init.safetensors", "config.json"):
        assert (shared / name).is_file(), name
    lora_after = {k: v for k, v in model.core.unet.state_dict().items() if "lora_" in k}
    assert lora_after.keys() == lora_before.keys()
    assert any(not torch.equal(lora_after[k], lora_before[k]) for k in lora_before), "shared LoRA must train"
    assert any(
        "lora_B" in k and float(v.abs().max()) > 0
        for k, v in load_file(str(shared / "adapters.safetensors")).items()
    )
    assert float(load_file(str(shared / "context.safetensors"))["context"].abs().max()) > 0

    init_after = load_file(str(shared / "inr_init.safetensors"))
    assert init_after.keys() == init_before.keys()
    assert not any(k.endswith("log_step") or "parametrizations" in k for k in init_after)
    moved = max(float((init_after[k] - init_before[k]).abs().max()) for k in init_before)
    assert moved > 1e-4, "Reptile must move the INR initialisation"

    # The last batch held two different clips: their fitted INRs differ (content reaches the conditioning).
    a, b = model.last_fitted
    assert max(float((a[k] - b[k]).abs().max()) for k in a) > 1e-3

    # A per-video encode starts from the result.
    loaded = DivInrModule(DivInrConfig.from_pretrained(shared), hw, 1, "encode", str(shared))
    assert torch.equal(loaded.context, model.context.detach().cpu())
    assert all(torch.equal(plain_inr_state(loaded.inr)[k], init_after[k]) for k in init_after)


def test_pretrain_inner_fit_reduces_regression_and_bad_input_is_clear(tmp_path: Path) -> None:
    from codecbench_divinr.config import DivInrConfig, InrSize
    from codecbench_divinr.pretrain import PretrainShared, SeptupletDataset, main

    cfg = DivInrConfig(backbone="tiny", inr=InrSize(**INR), window=7)
    module = PretrainShared(cfg, (2, 2), 16 * 16 * 7, inner_steps=15)
    lat = torch.randn(2, 7, 4, 2, 2)
    t = torch.stack([torch.linspace(0, 1, 7)] * 2)
    inrs, _, trace = module.fit_inrs(lat, t)
    assert len(inrs) == 2 and len(trace) == 15 and trace[-1] < trace[0]

    with pytest.raises(CodecbenchError, match="inner_steps"):
        PretrainShared(cfg, (2, 2), 1, inner_steps=-1)
    with pytest.raises(CodecbenchError, match="no such list"):
        SeptupletDataset(tmp_path)
    (tmp_path / "sep_trainlist.txt").write_text("\n")
    with pytest.raises(CodecbenchError, match="lists no sequences"):
        SeptupletDataset(tmp_path)
    (tmp_path / "sep_trainlist.txt").write_text("00001/0001\n")
    with pytest.raises(CodecbenchError, match="not folders"):
        SeptupletDataset(tmp_path)
    (tmp_path / "sequences" / "00001" / "0001").mkdir(parents=True)
    with pytest.raises(CodecbenchError, match="cannot read"):
        SeptupletDataset(tmp_path)[0]

    # Frames whose latents do not fit model.latent_hw: a plain message naming the right setting.
    root = vimeo_folder(tmp_path / "vimeo", clips=1)
    cfg_path = write_cfg(tmp_path, root, tmp_path / "shared", latent_hw=[4, 4], inner_steps=1)
    with pytest.raises(CodecbenchError, match=r"set it to \[8, 8\]"):
        main(["fit", "--config", str(cfg_path), "--data.batch_size", "1", "--trainer.max_steps", "1"])
