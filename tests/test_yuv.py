"""Streaming YUV I/O and colour conversion."""

from __future__ import annotations

import numpy as np
import pytest

from codecbench.errors import InputFormatError
from codecbench.video import Frame, VideoFormat, frame_count, read_yuv
from codecbench.yuv import YuvWriter, rgb_to_yuv, sha256_file, write_yuv, yuv_to_rgb


def random_frames(fmt: VideoFormat, n: int, seed: int = 0) -> list[Frame]:
    rng = np.random.default_rng(seed)
    return [
        Frame(
            *(
                rng.integers(0, fmt.max_value + 1, s, dtype=np.int64).astype(fmt.dtype)
                for s in fmt.plane_shapes
            )
        )
        for _ in range(n)
    ]


@pytest.mark.parametrize("depth", [8, 10])
def test_round_trip_and_layout(tmp_path, depth):
    fmt = VideoFormat(16, 8, depth)
    frames = random_frames(fmt, 3)
    path = tmp_path / "a.yuv"
    sha = write_yuv(path, fmt, frames)
    assert path.stat().st_size == 3 * 16 * 8 * 3 // 2 * (1 if depth == 8 else 2)
    assert sha == sha256_file(path)
    assert frame_count(path, fmt) == 3
    back = list(read_yuv(path, fmt))
    assert len(back) == 3
    for a, b in zip(frames, back):
        for p, q in zip(a.planes, b.planes):
            assert q.dtype == fmt.dtype and np.array_equal(p, q)
    # planar layout: the first bytes are the first frame's luma, row by row
    raw = np.fromfile(path, dtype=fmt.dtype)
    assert np.array_equal(raw[: 16 * 8].reshape(8, 16), frames[0].y)
    middle = list(read_yuv(path, fmt, start=1, count=1))
    assert len(middle) == 1 and np.array_equal(middle[0].u, frames[1].u)


def test_truncated_file_names_expected_frame_size(tmp_path):
    fmt = VideoFormat(16, 8)
    path = tmp_path / "t.yuv"
    path.write_bytes(b"\0" * (fmt.frame_bytes * 2 + 5))
    with pytest.raises(InputFormatError, match=f"multiple of {fmt.frame_bytes} bytes"):
        frame_count(path, fmt)
    with pytest.raises(InputFormatError, match="empty"):
        (tmp_path / "e.yuv").write_bytes(b"")
        frame_count(tmp_path / "e.yuv", fmt)


def test_writer_rejects_wrong_format(tmp_path):
    fmt = VideoFormat(16, 8)
    wrong = random_frames(VideoFormat(16, 8, 10), 1)[0]
    with YuvWriter(tmp_path / "w.yuv", fmt) as w, pytest.raises(InputFormatError, match="does not match"):
        w.write(wrong)


@pytest.mark.parametrize("bad", [(15, 8, 8), (16, 8, 12), (0, 8, 8)])
def test_invalid_formats(bad):
    with pytest.raises(InputFormatError):
        VideoFormat(*bad)


def test_matrix_by_resolution():
    assert VideoFormat(1920, 1080).matrix == "bt709"
    assert VideoFormat(832, 480).matrix == "bt601"


@pytest.mark.parametrize(
    "matrix,rgb,yuv",
    [
        # limited-range reference values (ITU-R BT.709 / BT.601, 8-bit)
        ("bt709", (1.0, 1.0, 1.0), (235, 128, 128)),
        ("bt709", (0.0, 0.0, 0.0), (16, 128, 128)),
        ("bt709", (1.0, 0.0, 0.0), (63, 102, 240)),
        ("bt601", (1.0, 0.0, 0.0), (81, 90, 240)),
        ("bt601", (0.0, 0.0, 1.0), (41, 240, 110)),
    ],
)
def test_rgb_to_yuv_reference_values(matrix, rgb, yuv):
    fmt = VideoFormat(4, 4)
    frame = rgb_to_yuv(np.broadcast_to(np.array(rgb, np.float32), (4, 4, 3)), fmt, matrix)
    assert (int(frame.y[0, 0]), int(frame.u[0, 0]), int(frame.v[0, 0])) == yuv


@pytest.mark.parametrize("depth", [8, 10])
def test_rgb_round_trip_is_close(depth):
    fmt = VideoFormat(32, 16, depth)
    rng = np.random.default_rng(1)
    # smooth chroma (constant per 2x2 block) so 4:2:0 subsampling loses nothing
    rgb = rng.random((8, 16, 3)).repeat(2, 0).repeat(2, 1).astype(np.float32)
    back = yuv_to_rgb(rgb_to_yuv(rgb, fmt), fmt)
    tol = 2.5 / 219 if depth == 8 else 0.7 / 219
    assert np.abs(back - rgb).max() < tol
