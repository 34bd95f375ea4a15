"""DiV-INR codec on CPU with the tiny backbone: bitstream, determinism, LoRA, rate, ladder, resume, loading."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from codecbench_divinr import bitstream, quant
from codecbench_divinr.backbone import (
    MINI_SCHEDULE,
    TINY_REVISION,
    load_backbone,
    mini_revision,
    missing_files,
    save_backbone,
    tiny_backbone,
)
from codecbench_divinr.codec import coded_slots, export_payload, load_decoder
from codecbench_divinr.config import DivInrConfig, InrSize
from codecbench_divinr.encoder import fit_clip
from codecbench_divinr.ladder import LADDER, inr_for, parse_rate_point
from codecbench_divinr.lora import lora_modules

from codecbench.errors import BitstreamError, CodecUnavailableError
from codecbench.ffmpeg import ffmpeg_exe
from codecbench.registry import create_codec
from codecbench.video import Clip, Frame, VideoFormat
from codecbench.yuv import write_yuv

pytestmark = pytest.mark.filterwarnings("ignore")
FAST = {"backbone": "tiny", "steps": "3", "inference_steps": "2", "window": "4", "progress": "false"}


def make_clip(path: Path, w: int = 64, h: int = 64, n: int = 6) -> Clip:
    """A moving gradient with noise: content the INR must represent."""
    fmt = VideoFormat(w, h)
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:h, 0:w]
    frames = []
    for i in range(n):
        y = (16 + (xx * 2 + yy + 6 * i) % 200 + rng.integers(0, 20, (h, w))).astype(np.uint8)
        c = np.full((h // 2, w // 2), 128, np.uint8)
        frames.append(Frame(y, c + 10 * (i % 2), c))
    write_yuv(path, fmt, frames)
    return Clip(path.stem, path, fmt, 24.0, n)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One per-video-adapter encode of a small clip, shared by the tests below."""
    tmp = tmp_path_factory.mktemp("divinr")
    clip = make_clip(tmp / "clip.yuv")
    point = parse_rate_point("s")
    size = inr_for(point, clip.format.width, clip.format.height, clip.frames)
    cfg = DivInrConfig(
        backbone="tiny", inr=size, lam=point.lam, steps=3, inference_steps=2, adapters="per_video"
    )
    before = {n: p.detach().clone() for n, p in tiny_backbone(0).unet.named_parameters()}
    module = fit_clip(clip, cfg, tmp / "work", window=4, progress=False)
    path = tmp / "clip.dvir"
    payload = export_payload(module, clip)
    size_bytes = bitstream.write(path, payload)
    return {
        "clip": clip,
        "module": module,
        "path": path,
        "payload": payload,
        "size": size_bytes,
        "before": before,
    }


def test_lora_injected_with_peft_and_trained(fitted: dict) -> None:
    from peft.tuners.lora import LoraLayer

    unet = fitted["module"].unet
    layers = [m for m in unet.modules() if isinstance(m, LoraLayer)]
    assert len(layers) >= 16
    targets = {n.rsplit(".", 1)[-1] for n, m in unet.named_modules() if isinstance(m, LoraLayer)}
    assert targets == {"to_q", "to_k", "to_v", "0"}
    b = [m.weight for n, m in lora_modules(unet) if "lora_B" in n]
    assert b and any(float(w.abs().max()) > 0 for w in b), (
        "LoRA B starts at zero and must move during the fit"
    )
    frozen = dict(unet.named_parameters())
    same = [n for n, p in fitted["before"].items() if n in frozen]
    assert same and all(torch.equal(frozen[n], fitted["before"][n]) for n in same[:20]), (
        "backbone must stay frozen"
    )


def test_bitstream_restores_exact_quantised_weights(fitted: dict) -> None:
    module = fitted["module"]
    expected = {name: getattr(m, p).detach().clone() for name, m, p in coded_slots(module)}
    assert any("lora_B" in n for n in expected) and any(n.startswith("inr.") for n in expected)
    decoder, payload = load_decoder(fitted["path"])
    for name, _, _ in coded_slots(module):
        owner, attr = name.rsplit(".", 1)
        got = decoder.get_submodule(owner).get_parameter(attr) if owner else None
        assert torch.equal(got, expected[name]), name
    assert payload.format == {"width": 64, "height": 64, "bit_depth": 8, "frames": 6}


def test_rate_accounting_matches_file(fitted: dict) -> None:
    payload, size = fitted["payload"], fitted["size"]
    assert size == fitted["path"].stat().st_size
    model_bits = sum(t.model_bits() for t in payload.tensors)
    header_bytes = 17 + struct_hlen(fitted["path"])
    payload_bits = 8 * (size - header_bytes)
    assert abs(payload_bits - model_bits) / model_bits < 0.03, (payload_bits, model_bits)
    assert header_bytes < 400 + 8 * len(payload.tensors)
    with torch.no_grad():
        differentiable = float(quant.rate_bits(fitted["module"]))
    assert abs(differentiable - model_bits) / model_bits < 0.03, (differentiable, model_bits)


def struct_hlen(path: Path) -> int:
    import struct

    return struct.unpack_from("<BI", path.read_bytes(), 4)[1]


def test_corrupt_and_truncated_bitstreams_raise(fitted: dict, tmp_path: Path) -> None:
    blob = fitted["path"].read_bytes()
    cases = {
        "trunc.dvir": blob[:-7],
        "flip.dvir": blob[:-20] + bytes([blob[-20] ^ 1]) + blob[-19:],
        "hdr.dvir": blob[:8],
    }
    cases["magic.dvir"] = b"XXXX" + blob[4:]
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(BitstreamError):
            bitstream.read(tmp_path / name)


def test_other_tiny_revision_is_refused(fitted: dict, tmp_path: Path) -> None:
    assert fitted["payload"].config["revision"] == TINY_REVISION
    for old in ("main", "tiny-v1"):
        payload = replace(fitted["payload"], config={**fitted["payload"].config, "revision": old})
        bitstream.write(tmp_path / "old.dvir", payload)
        with pytest.raises(BitstreamError, match="tiny backbone revision"):
            load_decoder(tmp_path / "old.dvir")
    with pytest.raises(CodecUnavailableError, match="tiny-v1"):
        load_backbone("tiny", "tiny-v1")


@pytest.fixture(scope="module")
def decoded(fitted: dict, tmp_path_factory: pytest.TempPathFactory) -> list[Frame]:
    return list(create_codec("divinr", FAST).decode(fitted["path"], tmp_path_factory.mktemp("dec")))


def test_two_decodes_identical_and_in_source_format(fitted: dict, decoded: list, tmp_path: Path) -> None:
    codec = create_codec("divinr", FAST)
    a = decoded
    b = list(codec.decode(fitted["path"], tmp_path))
    assert len(a) == 6 and all(f.matches(fitted["clip"].format) for f in a)
    assert all(x.tobytes() == y.tobytes() for x, y in zip(a, b, strict=True))
    assert len({f.tobytes() for f in a}) > 1, "frames must not all be the same picture"


def test_decode_runs_on_one_thread_whatever_the_budget(fitted: dict, decoded: list, tmp_path: Path) -> None:
    """torch's CPU sums depend on the thread count; the decoder pins one so verify re-decodes exactly."""
    codec = create_codec("divinr", FAST)
    saved = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        frames = codec.decode(fitted["path"], tmp_path)
        first = next(frames)
        assert torch.get_num_threads() == 1, "decoding must run on one thread"
        rest = list(frames)
        assert torch.get_num_threads() == 2, "the caller's thread setting comes back"
    finally:
        torch.set_num_threads(saved)
    assert all(x.tobytes() == y.tobytes() for x, y in zip(decoded, [first, *rest], strict=True))


def test_fallback_is_loud_and_labelled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    import warnings

    import codecbench_divinr.codec as cmod

    missing = str(tmp_path / "no-such-svd")
    codec = create_codec("divinr", {"backbone": missing})
    with pytest.warns(RuntimeWarning, match="DIVINR FALLBACK"):
        assert codec.label == "divinr[mini]"
    assert codec.config()["effective_backbone"] == "mini"
    assert f"backbone mini@{mini_revision()}" in codec.version and mini_revision().startswith("mini-")
    assert (codec.config()["steps"], codec.config()["inference_steps"]) == MINI_SCHEDULE
    probes: list = []
    monkeypatch.setattr(cmod, "missing_files", lambda *a: probes.append(a) or ["x"])
    with warnings.catch_warnings(record=True) as again:
        warnings.simplefilter("always")
        assert create_codec("divinr", {"backbone": missing}).label == "divinr[mini]"
    assert not probes and not again, "probe and warning are once per process"
    assert capsys.readouterr().err.count("DIVINR FALLBACK") == 1
    monkeypatch.undo()
    assert codec.available().ok
    strict = create_codec("divinr", {"backbone": missing, "fallback": "false"})
    assert strict.label == "divinr" and not strict.available().ok
    assert strict.schedule() == (200, 8) and create_codec("divinr", FAST).schedule() == (3, 2)
    assert "unet/config.json" in strict.available().reason
    assert create_codec("divinr", FAST).label == "divinr[tiny]"


def test_loading_path_from_saved_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tiny = tiny_backbone(3)
    save_backbone(tiny, tmp_path / "svd")
    assert missing_files(str(tmp_path / "svd")) == []
    loaded = load_backbone(str(tmp_path / "svd"))
    assert loaded.name == str(tmp_path / "svd") and not loaded.is_tiny
    ref = dict(tiny.unet.named_parameters())
    assert all(torch.equal(p, ref[n]) for n, p in loaded.unet.named_parameters())
    assert loaded.scheduler.config.prediction_type == "v_prediction"
    assert not torch.equal(next(tiny_backbone(4).unet.parameters()), next(tiny.unet.parameters()))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CodecUnavailableError, match="unet/diffusion_pytorch_model.safetensors"):
        load_backbone("codecbench-test/not-cached-svd")


def test_interrupted_encode_resumes(tmp_path: Path) -> None:
    from lightning.pytorch.callbacks import Callback

    class Interrupt(Callback):
        def on_train_batch_end(self, trainer, *args) -> None:  # noqa: ANN001, ANN002
            if trainer.global_step == 3:
                raise RuntimeError("simulated crash")

    class Start(Callback):
        step = -1

        def on_train_start(self, trainer, *args) -> None:  # noqa: ANN001, ANN002
            Start.step = trainer.global_step

    clip = make_clip(tmp_path / "r.yuv", 32, 32, 4)
    cfg = lambda: DivInrConfig(inr=InrSize(4, 8, (4, 4)), steps=5, inference_steps=1)  # noqa: E731
    with pytest.raises(RuntimeError, match="simulated crash"):
        fit_clip(
            clip, cfg(), tmp_path / "w", window=4, checkpoint_every=2, progress=False, callbacks=[Interrupt()]
        )
    assert (tmp_path / "w" / "divinr_ckpt" / "last.ckpt").is_file()
    module = fit_clip(
        clip, cfg(), tmp_path / "w", window=4, checkpoint_every=2, progress=False, callbacks=[Start()]
    )
    assert Start.step == 2, "must resume from the step-2 checkpoint, not from scratch"
    assert module.trainer.global_step == 5


def make_testsrc(path: Path, w: int = 384, h: int = 256, n: int = 16) -> Clip:
    src = f"testsrc2=size={w}x{h}:rate=24"
    cmd = [ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", src, "-frames:v", str(n), "-pix_fmt", "yuv420p"]
    subprocess.run([*cmd, "-f", "rawvideo", "-y", str(path)], check=True)
    return Clip("testsrc2", path, VideoFormat(w, h), 24.0, n)


def test_default_ladder_under_005_bpp_on_sample_size(tmp_path: Path) -> None:
    clip = make_testsrc(tmp_path / "t.yuv")
    codec = create_codec("divinr", {**FAST, "steps": "1", "window": "4"})
    assert codec.default_rate_points() == list(LADDER)
    sizes = []
    for rp in codec.default_rate_points():
        path = codec.encode(clip, rp, tmp_path / rp)
        sizes.append(path.stat().st_size)
        assert abs(codec.last_rate["file_bits"] - 8 * sizes[-1]) < 1
    bpp = [8 * s / (384 * 256 * 16) for s in sizes]
    assert max(bpp) < 0.05, bpp
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1], sizes


def test_config_save_and_load(tmp_path: Path) -> None:
    cfg = DivInrConfig(backbone="x/y", inr=InrSize(6, 8, (4, 4, 4)), adapters="per_video")
    cfg.save_pretrained(tmp_path)
    assert DivInrConfig.from_pretrained(tmp_path) == cfg
    assert parse_rate_point("m@0.5").lam == 0.5
    with pytest.raises(Exception, match="rate point"):
        parse_rate_point("huge")


def test_pretrain_lightning_cli_writes_shared_components(tmp_path: Path) -> None:
    import yaml
    from codecbench_divinr.module import DivInrModule, shared_sha256
    from codecbench_divinr.pretrain import main
    from safetensors.torch import load_file
    from torchvision.io import write_png

    root = tmp_path / "vimeo"
    names = []
    for s in range(2):
        d = root / "sequences" / f"0000{s + 1}" / "0001"
        d.mkdir(parents=True)
        for k in range(7):
            write_png(torch.randint(0, 255, (3, 36, 40), dtype=torch.uint8), str(d / f"im{k + 1}.png"))
        names.append(f"0000{s + 1}/0001")
    (root / "sep_trainlist.txt").write_text("\n".join(names) + "\n")
    shared = tmp_path / "shared"
    save = {"class_path": "codecbench_divinr.pretrain.SaveShared", "init_args": {"folder": str(shared)}}
    trainer = {"max_steps": 2, "accelerator": "cpu", "logger": False, "enable_checkpointing": False}
    trainer |= {"enable_progress_bar": False, "default_root_dir": str(tmp_path / "run"), "callbacks": [save]}
    model = {"config": {"backbone": "tiny", "inr": {"freqs": 4, "stem": 8, "channels": [4, 4]}, "window": 7}}
    model |= {"latent_hw": [4, 5], "pixels": 40 * 32 * 7}
    (tmp_path / "cfg.yaml").write_text(
        yaml.safe_dump({"trainer": trainer, "model": model, "data": {"root": str(root)}})
    )
    cli = main(["fit", "--config", str(tmp_path / "cfg.yaml")])
    assert cli.trainer.global_step == 2
    adapters = load_file(str(shared / "adapters.safetensors"))
    assert any("lora_B" in k and float(v.abs().max()) > 0 for k, v in adapters.items()), (
        "shared LoRA must train"
    )
    assert float(load_file(str(shared / "context.safetensors"))["context"].abs().max()) > 0
    assert len(shared_sha256(shared)) == 16
    loaded = DivInrModule(DivInrConfig.from_pretrained(shared), (4, 5), 1, "encode", str(shared))
    assert torch.equal(loaded.context, cli.model.context.detach().cpu())


def test_step_analysis_tidy_table_and_final_step_matches_decode(fitted: dict, decoded: list) -> None:
    from codecbench_divinr.analysis import step_analysis

    from codecbench.metrics.psnr import plane_psnr

    clip = fitted["clip"]
    table = step_analysis(fitted["path"], clip, [0, 1])
    assert list(table.columns) == ["step", "frame", "metric", "value"]
    psnr = table[table.metric == "psnr_y"]
    assert len(psnr) == 2 * clip.frames and psnr["value"].notna().all()
    final = [plane_psnr(r.y, d.y, 255) for r, d in zip(clip.read(), decoded, strict=True)]
    last = psnr[psnr.step == 1].sort_values("frame")["value"].to_numpy()
    assert np.allclose(last, final, atol=0.05), (last, final)


def test_default_ladder_under_the_real_harness(tmp_path: Path) -> None:
    """The README's job on one sample clip: default ladder and window, the mini stand-in, then verify."""
    import json

    import pandas as pd

    from codecbench.cli import main

    out = str(tmp_path / "run")
    args = [
        "run",
        "--codecs",
        "divinr",
        "--dataset",
        "sample",
        "--sequences",
        "Clouds",
        "--metrics",
        "psnr_y",
    ]
    args += ["--codec-opt", "divinr.steps=2", "--codec-opt", "divinr.warmup_steps=0"]
    args += ["--no-report", "--quiet", "--out", out]
    assert main(args) == 0
    rows = pd.read_csv(Path(out) / "results.csv")
    assert len(rows) == 4 and set(rows.codec) == {"divinr[mini]"} and set(rows.status) == {"ok"}
    assert list(rows.rate_point) == list(LADDER)
    assert (rows.bpp < 0.05).all(), rows.bpp.tolist()
    for r in rows.itertuples():
        assert r.bytes == (Path(out) / r.bitstream_path).stat().st_size
        cfg = json.loads(r.codec_config)
        assert (cfg["steps"], cfg["inference_steps"], cfg["effective_backbone"]) == (
            2,
            MINI_SCHEDULE[1],
            "mini",
        )
        header = bitstream.read(Path(out) / r.bitstream_path).config
        assert (header["inference_steps"], header["window"], header["overlap"]) == (MINI_SCHEDULE[1], 8, 2)
        assert (header["backbone"], header["revision"]) == ("mini", mini_revision())
    assert main(["verify", out, "--quiet"]) == 0


def test_run_with_workers_warns_once_without_source_lines(tmp_path: Path) -> None:
    """The README's run: one fallback banner for the whole run, not one per worker, and no Python lines."""
    from tests.conftest import cli

    proc = cli(
        "run", "--codecs", "divinr", "--dataset", "sample", "--sequences", "Clouds", "--frames", "2",
        "--codec-opt", "divinr.rate_points=xs,s", "--codec-opt", "divinr.steps=1", "--metrics", "psnr_y",
        "--codec-opt", "divinr.warmup_steps=0",
        "--workers", "2", "--no-report", "--out", tmp_path / "run",
        env={"CODECBENCH_DIVINR_WARNED": ""},  # as in a fresh shell: no earlier test's warning
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("DIVINR FALLBACK") == 1, proc.stderr
    assert "warnings.warn" not in proc.stderr and "_label_for" not in proc.stderr, proc.stderr
    assert "divinr[mini] Clouds @ xs: 1/1 steps" in proc.stderr


def test_an_fp16_only_folder_is_probed_and_loaded_as_fp16(tmp_path: Path) -> None:
    from codecbench_divinr.backbone import weight_variant

    tiny, folder = tiny_backbone(1), tmp_path / "svd16"
    for sub in ("unet", "vae"):
        getattr(tiny, sub).save_pretrained(folder / sub, variant="fp16")
    tiny.scheduler.save_pretrained(folder / "scheduler")
    assert missing_files(str(folder)) == [] and weight_variant(str(folder)) == "fp16"
    loaded = load_backbone(str(folder))
    ref = dict(tiny.unet.named_parameters())
    assert all(torch.equal(p.float(), ref[n].float()) for n, p in loaded.unet.named_parameters())
    tiny.vae.save_pretrained(
        folder / "vae"
    )  # full-precision VAE beside an fp16-only UNet: no variant complete
    (folder / "vae" / "diffusion_pytorch_model.fp16.safetensors").unlink()
    assert missing_files(str(folder)) == [str(folder / "unet" / "diffusion_pytorch_model.safetensors")]


def test_a_folder_of_small_weights_is_not_labelled_as_svd(tmp_path: Path) -> None:
    save_backbone(tiny_backbone(0), tmp_path / "my-tiny")
    codec = create_codec("divinr", {"backbone": str(tmp_path / "my-tiny"), "progress": "false"})
    assert codec.label == "divinr[my-tiny]" and codec.available().ok
    assert create_codec("divinr", {"backbone": "mini"}).label == "divinr[mini]"


def test_tiny_bitstreams_record_the_software_that_drew_the_weights(fitted: dict, tmp_path: Path) -> None:
    from codecbench_divinr.backbone import software

    assert fitted["payload"].config["software"] == software() != ""
    other = replace(
        fitted["payload"], config={**fitted["payload"].config, "software": "torch 0.1; diffusers 0.1"}
    )
    bitstream.write(tmp_path / "old.dvir", other)
    with pytest.raises(BitstreamError, match="drawn by torch 0.1"):
        load_decoder(tmp_path / "old.dvir")


def test_a_load_that_fails_after_the_probe_is_labelled_with_the_stand_in(tmp_path: Path) -> None:
    """The probe finds the files, the load fails (corrupt weights): label, config and header say mini."""
    folder = save_backbone(tiny_backbone(0), tmp_path / "broken")
    (folder / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"not safetensors")
    assert missing_files(str(folder)) == []
    codec = create_codec(
        "divinr", {"backbone": str(folder), "steps": "1", "inference_steps": "1", "progress": "false"}
    )
    assert codec.label == "divinr[broken]"  # before the load: what the probe saw
    path = codec.encode(make_clip(tmp_path / "c.yuv", 32, 32, 2), "xs", tmp_path / "w")
    assert codec.label == "divinr[mini]" and codec.config()["effective_backbone"] == "mini"
    assert bitstream.read(path).config["backbone"] == "mini"
