"""CompressAI codecs: exact round trips, GOP structure, odd sizes, bitstream checks, weights loading.

No weights are downloaded: small untrained models (built here, ``update()``d, saved as checkpoints or
under the zoo's file names in a temporary torch hub cache) and ``weights=untrained`` stand in. The
entropy coding is real either way, which is what these tests check.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from codecbench_compressai import frames as F
from codecbench_compressai.base import deterministic
from codecbench_compressai.bitstream import Header, Part, pack_packet, read_bitstream
from codecbench_compressai.zoo import MODELS, fingerprint, hub_cache_file, load_model

from codecbench.errors import BitstreamError, CodecbenchError, CodecUnavailableError
from codecbench.registry import create_codec
from codecbench.video import Clip, Frame, VideoFormat, read_yuv
from codecbench.yuv import rgb_to_yuv, write_yuv, yuv_to_rgb

IMAGE_MODELS = [n for n in MODELS if n != "ssf2020"]
QUIET = {"progress": "false", "device": "cpu", "threads": "1"}


def make_clip(tmp: Path, width: int, height: int, frames: int, bit_depth: int = 8, name: str = "c") -> Clip:
    """A textured picture with a square moving 3 pixels right per frame."""
    fmt = VideoFormat(width, height, bit_depth)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    rng = np.random.default_rng(1)
    out = []
    for i in range(frames):
        rgb = np.stack(
            [0.5 + 0.4 * np.sin(xx / 7 + i), 0.3 + yy / (2 * height), 0.5 + 0.3 * np.cos(yy / 5)], -1
        )
        rgb[10:26, 8 + 3 * i : 24 + 3 * i] = (0.9, 0.2, 0.1)
        rgb += rng.normal(0, 0.02, rgb.shape)
        out.append(rgb_to_yuv(np.clip(rgb, 0, 1), fmt))
    path = tmp / f"{name}.yuv"
    write_yuv(path, fmt, out)
    return Clip(name, path, fmt, 25.0, frames)


def _last_conv(seq: torch.nn.Module) -> torch.nn.Module:
    return [c for c in seq.children() if isinstance(c, torch.nn.Conv2d | torch.nn.ConvTranspose2d)][-1]


def small_model(name: str) -> torch.nn.Module:
    """The model's architecture at a tiny width, seeded, with entropy tables, for fast round trips.

    Untrained latents are so small that they all round to zero and every picture decodes to the same
    constant, which would make "exact" trivially true; scaling the analysis transforms' last layers and
    centring the synthesis output makes the latents, the entropy-coded symbols and the pictures vary.
    """
    arch = MODELS[name].architecture
    torch.manual_seed(3)
    model = arch(16) if name.startswith("cheng2020") else arch(16, 24)
    with torch.no_grad():
        for seq, gain in ((model.g_a, 40.0), (getattr(model, "h_a", None), 20.0)):
            if seq is not None:
                conv = _last_conv(seq)
                conv.weight.mul_(gain)
                conv.bias.mul_(gain)
        [m for m in model.g_s.modules() if getattr(m, "bias", None) is not None][-1].bias.add_(0.5)
    model.update(force=True)
    return model.eval()


def spread_ssf() -> torch.nn.Module:
    """ssf2020 (no smaller configuration exists) with the same scaling as :func:`small_model`, so that
    intra, motion and residual latents are mostly non-zero and pictures and references vary."""
    torch.manual_seed(0)
    model = MODELS["ssf2020"].architecture()
    with torch.no_grad():
        for part in ("img", "res", "motion"):
            for seq, gain in ((getattr(model, f"{part}_encoder"), 40.0),
                              (getattr(model, f"{part}_hyperprior").hyper_encoder, 20.0)):  # fmt: skip
                conv = _last_conv(seq)
                conv.weight.mul_(gain)
                conv.bias.mul_(gain)
        _last_conv(model.img_decoder).bias.add_(0.5)
    model.update(force=True)
    return model.eval()


@pytest.fixture(scope="module")
def ssf_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ssf") / "ssf-spread.pth"
    torch.save(spread_ssf().state_dict(), path)
    return path


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> None:
    """Tiny tensors on a shared CPU: one thread is many times faster than contended ones."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One small checkpoint per image model, wrapped as CompressAI's training script saves them."""
    root = tmp_path_factory.mktemp("ckpt")
    out = {}
    for name in IMAGE_MODELS:
        out[name] = root / f"{name}.pth.tar"
        torch.save({"epoch": 1, "state_dict": small_model(name).state_dict()}, out[name])
    return out


def same(a: list[Frame], b: list[Frame]) -> bool:
    return len(a) == len(b) and all(
        np.array_equal(p, q)
        for fa, fb in zip(a, b, strict=True)
        for p, q in zip(fa.planes, fb.planes, strict=True)
    )


def round_trip(name: str, opts: dict, clip: Clip, workdir: Path, rate_point: str = "1"):
    """Encode with one instance (keeping its reconstruction), decode with a fresh one."""
    path, recon = create_codec(name, {**QUIET, **opts}).encode_with_reconstruction(clip, rate_point, workdir)
    decoded = list(create_codec(name, {**QUIET, **opts}).decode(path, workdir))
    return path, recon, decoded


@pytest.mark.parametrize("name", IMAGE_MODELS)
def test_image_round_trip_is_exact(name: str, checkpoints: dict[str, Path], tmp_path: Path) -> None:
    clip = make_clip(tmp_path, 70, 46, 3)  # odd size: padded to 128x64, cropped back
    path, recon, decoded = round_trip(
        name, {"checkpoint": str(checkpoints[name]), "batch": 2}, clip, tmp_path
    )
    assert same(recon, decoded)
    assert all(f.matches(clip.format) for f in decoded)
    assert np.std([f.y.astype(float) for f in decoded]) > 1.0  # a picture, not a constant
    header, packets = read_bitstream(path.read_bytes())
    assert (header.model, header.frames, header.batch, header.padded_width, header.padded_height) == (
        name, 3, 2, 128, 64,
    )  # fmt: skip
    # The rate is the file: header, packets and CRC, nothing else.
    expected = len(header.pack()) + sum(len(pack_packet(p)) for p in packets) + 4
    assert path.stat().st_size == expected


def test_decode_matches_the_model_forward_pass(checkpoints: dict[str, Path], tmp_path: Path) -> None:
    """Independent of compress/decompress: the hyperprior's forward pass in eval mode quantises the same
    latents, so its output, cropped and converted, must agree with the decoded frames to a code value."""
    clip = make_clip(tmp_path, 70, 46, 2)
    codec = create_codec(
        "bmshj2018-hyperprior", {**QUIET, "checkpoint": str(checkpoints["bmshj2018-hyperprior"])}
    )
    decoded = list(codec.decode(codec.encode(clip, "3", tmp_path), tmp_path))
    model = small_model("bmshj2018-hyperprior")
    fmt = clip.format
    for frame, dec in zip(clip.read(), decoded, strict=True):
        x = torch.from_numpy(yuv_to_rgb(frame, fmt)).permute(2, 0, 1)[None]
        x = torch.nn.functional.pad(x, (29, 29, 9, 9))  # centred to 128x64, as CompressAI pads
        with torch.no_grad():
            x_hat = model(x)["x_hat"][0, :, 9:55, 29:99].clamp(0, 1).permute(1, 2, 0).numpy()
        ref = rgb_to_yuv(x_hat, fmt)
        for p, q in zip(ref.planes, dec.planes, strict=True):
            assert np.abs(p.astype(int) - q.astype(int)).max() <= 1


def test_untrained_zoo_size_model_round_trip(tmp_path: Path) -> None:
    clip = make_clip(tmp_path, 64, 64, 2, bit_depth=10)
    codec = create_codec("bmshj2018-factorized", {**QUIET, "weights": "untrained"})
    assert codec.label == "bmshj2018-factorized[untrained]"
    assert codec.available()
    path, recon, decoded = round_trip("bmshj2018-factorized", {"weights": "untrained"}, clip, tmp_path, "2")
    assert same(recon, decoded) and decoded[0].y.dtype == np.uint16
    assert path.name.endswith(".cai")


def test_coding_leaves_torch_global_state_alone(small_file, tmp_path: Path) -> None:
    """Deterministic kernels, thread count and inference mode are set while coding only, never while
    the caller holds a decoded frame (metrics and other plugins share the process)."""
    path, opts = small_file
    before = (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled(), torch.is_grad_enabled())
    with deterministic(2):
        assert torch.are_deterministic_algorithms_enabled() and torch.is_inference_mode_enabled()
        assert torch.get_num_threads() == 2
    frames = create_codec("bmshj2018-factorized", {**opts, "threads": "2"}).decode(path, tmp_path)
    for _ in frames:
        assert not torch.is_inference_mode_enabled()
        assert (torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()) == before[:2]
    assert (
        torch.get_num_threads(),
        torch.are_deterministic_algorithms_enabled(),
        torch.is_grad_enabled(),
    ) == before


@pytest.mark.parametrize(
    ("gop", "width", "height", "depth", "kinds"),
    [(2, 70, 46, 8, [1, 2, 1, 2, 1]), (3, 64, 48, 10, [1, 2, 2, 1, 2])],
)
def test_ssf2020_gop_round_trip_is_exact(
    gop: int, width: int, height: int, depth: int, kinds: list[int], tmp_path: Path
) -> None:
    clip = make_clip(tmp_path, width, height, 5, depth)
    path, recon, decoded = round_trip(
        "ssf2020", {"weights": "untrained", "gop": str(gop)}, clip, tmp_path, "4"
    )
    assert same(recon, decoded)
    assert all(f.matches(clip.format) for f in decoded)
    header, packets = read_bitstream(path.read_bytes())
    assert (header.gop, header.padded_width, header.padded_height) == (gop, 128, 128)
    assert [len(p) for p in packets] == kinds  # intra: one part; P: motion and residual


def test_ssf2020_p_frames_depend_on_the_reference(ssf_checkpoint: Path, tmp_path: Path) -> None:
    """Decoding a P frame from another reference gives another picture: the chain matters."""
    clip = make_clip(tmp_path, 64, 64, 2)
    codec = create_codec("ssf2020", {**QUIET, "checkpoint": str(ssf_checkpoint), "gop": "0"})
    path = codec.encode(clip, "1", tmp_path)
    header, packets = read_bitstream(path.read_bytes())
    model, _ = codec.model("mse", 1)
    with torch.inference_mode():
        good, ref = codec._decode_group(model, header, 0, packets[:1], None)
        first, _ = codec._decode_group(model, header, 1, packets[1:], ref)
        other, _ = codec._decode_group(model, header, 1, packets[1:], torch.zeros_like(ref))
    assert not same(first, other)
    assert same(good + first, list(codec.decode(path, tmp_path)))


@pytest.fixture
def small_file(checkpoints: dict[str, Path], tmp_path: Path) -> tuple[Path, dict]:
    opts = {**QUIET, "checkpoint": str(checkpoints["bmshj2018-factorized"])}
    return create_codec("bmshj2018-factorized", opts).encode(
        make_clip(tmp_path, 64, 64, 2), "1", tmp_path
    ), opts


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: b[:-7], "CRC mismatch"),
        (lambda b: b[:20], "shorter than a header"),
        (lambda b: b[:40] + bytes([b[40] ^ 0x10]) + b[41:], "CRC mismatch"),
        (lambda b: b"XXXX" + b[4:], "bad magic"),
        (lambda b: b[:4] + b"\x09" + b[5:], "format version 9"),
        (lambda b: b"", "bad magic"),
    ],
)
def test_damaged_bitstream_is_a_clear_error(small_file, damage, message: str, tmp_path: Path) -> None:
    path, opts = small_file
    bad = tmp_path / "bad.cai"
    bad.write_bytes(damage(path.read_bytes()))
    with pytest.raises(BitstreamError, match=message):
        list(create_codec("bmshj2018-factorized", opts).decode(bad, tmp_path))


def test_structurally_truncated_packet_with_valid_crc(small_file, tmp_path: Path) -> None:
    """A file cut inside a packet whose CRC was recomputed still fails as a truncation, not a crash."""
    path, opts = small_file
    body = path.read_bytes()[:-4][:-10]
    bad = tmp_path / "cut.cai"
    bad.write_bytes(body + struct.pack("<I", zlib.crc32(body)))
    with pytest.raises(BitstreamError, match="truncated"):
        list(create_codec("bmshj2018-factorized", opts).decode(bad, tmp_path))


def test_wrong_codec_or_weights_is_refused(small_file, tmp_path: Path) -> None:
    path, opts = small_file
    with pytest.raises(BitstreamError, match="written by 'bmshj2018-factorized'"):
        create_codec("bmshj2018-hyperprior", QUIET).decode(path, tmp_path)
    with pytest.raises(BitstreamError, match="other weights"):
        create_codec("bmshj2018-factorized", {**QUIET, "weights": "untrained"}).decode(path, tmp_path)
    with pytest.raises(BitstreamError, match="cannot read"):
        create_codec("bmshj2018-factorized", opts).decode(tmp_path / "missing.cai", tmp_path)


def test_zoo_weights_from_the_torch_hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    codec = create_codec("bmshj2018-factorized", QUIET)
    q1 = tmp_path / "torch/hub/checkpoints/bmshj2018-factorized-prior-1-446d5c7f.pth.tar"
    assert hub_cache_file(MODELS["bmshj2018-factorized"], "mse", 1) == q1
    state = codec.available()
    assert not state and str(q1) in state.reason and len(state.missing) == 8
    with pytest.raises(CodecUnavailableError, match=str(q1)):
        codec.encode(make_clip(tmp_path, 64, 64, 1), "1", tmp_path)

    # Save an untrained model under the zoo's exact file name: it loads through compressai.zoo.
    model = small_model("bmshj2018-factorized")
    q1.parent.mkdir(parents=True)
    torch.save(model.state_dict(), q1)
    loaded = load_model(MODELS["bmshj2018-factorized"], "mse", 1)
    assert fingerprint(loaded) == fingerprint(model)
    state = create_codec("bmshj2018-factorized", QUIET).available()
    assert len(state.missing) == 7 and str(q1) not in state.reason
    clip = make_clip(tmp_path, 64, 64, 1)
    path, recon, decoded = round_trip("bmshj2018-factorized", {}, clip, tmp_path)
    assert same(recon, decoded)
    assert create_codec("bmshj2018-factorized", {**QUIET, "download": "true"}).available()


def test_checkpoint_option_folder_and_placeholder(tmp_path: Path) -> None:
    spec = MODELS["mbt2018-mean"]
    model = small_model("mbt2018-mean")
    torch.save(model.state_dict(), tmp_path / spec.file_name("mse", 2))
    loaded = load_model(spec, "mse", 2, checkpoint=tmp_path)
    assert fingerprint(loaded) == fingerprint(model)
    torch.save(model.state_dict(), tmp_path / "mine-q2-mse.pt")
    codec = create_codec(
        "mbt2018-mean", {**QUIET, "checkpoint": str(tmp_path / "mine-q{quality}-{metric}.pt")}
    )
    assert fingerprint(codec.model("mse", 2)[0]) == fingerprint(model)
    assert codec.label == "mbt2018-mean[ckpt:mine-q{quality}-{metric}]"
    assert "mine-q1-mse.pt" in codec.available().reason
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CodecbenchError, match="cannot read weights"):
        load_model(spec, "mse", 1, checkpoint=tmp_path / "junk.pt")


def test_options_rate_points_and_labels() -> None:
    image = create_codec("cheng2020-attn", {**QUIET, "metric": "ms-ssim", "weights": "untrained"})
    assert image.label == "cheng2020-attn[ms-ssim,untrained]"
    assert image.default_rate_points() == ["1", "2", "3", "4", "5", "6"]
    assert create_codec("mbt2018", QUIET).default_rate_points()[-1] == "8"
    assert create_codec("ssf2020", QUIET).default_rate_points() == [str(q) for q in range(1, 10)]
    for bad in ("0", "7", "high", ""):
        with pytest.raises(CodecbenchError, match="not a quality"):
            image.check_rate_point(bad)
    with pytest.raises(CodecbenchError, match="not one of"):
        create_codec("ssf2020", {"metric": "ms-ssim"})
    with pytest.raises(CodecbenchError, match="gop"):
        create_codec("ssf2020", {"gop": "-1"})
    assert create_codec("mbt2018", {"device": "auto"}).device == torch.device("cpu")
    assert "progress" not in image.config() and image.config()["metric"] == "ms-ssim"


def test_padding_and_conversion_round_trip_exactly(tmp_path: Path) -> None:
    """Pad, convert and crop back with no model in between: the same frames as codecbench's own
    RGB round trip, so the codec's geometry and colour handling add nothing of their own."""
    clip = make_clip(tmp_path, 70, 46, 1, bit_depth=10)
    fmt = clip.format
    (frame,) = read_yuv(clip.path, fmt)
    pad = F.padding(fmt, 64)
    assert pad == (29, 29, 9, 9) and F.padded_size(fmt, 64) == (128, 64)
    x = F.to_tensor([frame], fmt, fmt.matrix, pad, torch.device("cpu"))
    assert x.shape == (1, 3, 64, 128) and float(x[..., :9, :].abs().max()) == 0.0
    (back,) = F.to_frames(x, fmt, fmt.matrix, pad)
    assert same([back], [rgb_to_yuv(yuv_to_rgb(frame, fmt), fmt)])


def test_bitstream_packing_round_trip() -> None:
    header = Header("ssf2020", "mse", 9, 2, 1920, 1080, 10, "bt709", 1920, 1152, 32, 1, b"\x01\x02\x03\x04")
    packets = [
        [Part((b"a" * 300, b""), (68, 120))],
        [Part((b"x",), (1,)), Part((bytes(range(256)),), (2**40,))],
    ]
    body = header.pack() + b"".join(pack_packet(p) for p in packets)
    data = body + struct.pack("<I", zlib.crc32(body))
    assert read_bitstream(data) == (header, packets)
    extra = body + b"\x00"
    with pytest.raises(BitstreamError, match="after the last"):
        read_bitstream(extra + struct.pack("<I", zlib.crc32(extra)))
