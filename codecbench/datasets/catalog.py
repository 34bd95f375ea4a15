"""The standard test sets of the learned-video-compression literature: per-sequence metadata and sources.

Every figure here was checked against a published source; where two disagree the official one wins.

UVG (Ultra Video Group, Tampere University), the seven 1080p 8-bit 4:2:0 sequences at 120 fps:
    A. Mercat, M. Viitanen, J. Vanne, "UVG dataset: 50/120fps 4K sequences for video codec analysis and
    development", ACM MMSys 2020; https://ultravideo.fi/dataset.html (CC BY-NC 3.0). One 7z archive per
    sequence at ``https://ultravideo.fi/video/<Name>_1920x1080_120fps_420_8bit_YUV_RAW.7z``; each holds the
    raw ``<Name>_1920x1080_120fps_420_8bit_YUV.yuv`` and a copyright text. The archive of ReadySteadyGo is
    named ``ReadySetGo_...`` while the file inside is ``ReadySteadyGo_...``. Frame counts (600, ShakeNDry
    300) as in microsoft/DCVC ``test_cfg/all_yuv420.json``, which the DCVC papers report on. The 2020
    additions (CityAlley, FlowerFocus, ...) are 50 fps 10-bit and not part of the set papers report on;
    they are left out. UVG publishes no checksums.

MCL-JCV (USC Media Communications Lab), 30 source sequences, 1920x1080 8-bit 4:2:0, 5 s each:
    H. Wang et al., "MCL-JCV: a JND-based H.264/AVC video quality assessment dataset", ICIP 2016;
    https://mcl.usc.edu/mcl-jcv-dataset/ and the authors' Hugging Face mirror
    https://huggingface.co/datasets/uscmcl/MCL-JCV_Dataset (ungated). File names, frame rates and frame
    counts (24 fps: 120, 25 fps: 125, 30 fps: 150 frames) as in microsoft/DCVC ``test_cfg/all_yuv420.json``.
    The mirror ships the sources inside many zip parts together with thousands of encoded clips, and no
    per-file checksums, so ``fetch`` treats the set as manual: it extracts the 30 sources from archives
    the user has put in the root, and validates them.

HEVC/JVET CTC Class B, 1920x1080 4:2:0 (licensed; JCT-VC/JVET test material):
    BasketballDrive 50 fps 500 frames, BQTerrace 60/600, Cactus 50/500, Kimono1 24/240, ParkScene 24/240
    (8-bit; JCT-VC CTC JCTVC-L1100 and HM ``cfg/per-sequence/*.cfg``), MarketPlace and RitualDance 60 fps
    600 frames 10-bit (JVET CTC, VTM ``cfg/per-sequence/MarketPlace.cfg``/``RitualDance.cfg``). File names
    are those the HM/VTM configuration files expect. No checksums of the original files are published.
"""

from __future__ import annotations

from codecbench.datasets.base import Dataset, Download, SequenceInfo

UVG_HOME = "https://ultravideo.fi/dataset.html"
UVG_VIDEO_URL = "https://ultravideo.fi/video/"
MCL_JCV_HOME = "https://mcl.usc.edu/mcl-jcv-dataset/"
MCL_JCV_MIRROR = "https://huggingface.co/datasets/uscmcl/MCL-JCV_Dataset"
UVG_PAPER = "Mercat et al., UVG dataset, ACM MMSys 2020"
MCL_JCV_PAPER = "Wang et al., MCL-JCV, ICIP 2016"

# (sequence, archive stem on ultravideo.fi, frames)
_UVG = (
    ("Beauty", "Beauty", 600),
    ("Bosphorus", "Bosphorus", 600),
    ("HoneyBee", "HoneyBee", 600),
    ("Jockey", "Jockey", 600),
    ("ReadySteadyGo", "ReadySetGo", 600),
    ("ShakeNDry", "ShakeNDry", 300),
    ("YachtRide", "YachtRide", 600),
)


def _uvg_file(name: str) -> str:
    return f"{name}_1920x1080_120fps_420_8bit_YUV.yuv"


def _uvg_archive(stem: str) -> str:
    return f"{stem}_1920x1080_120fps_420_8bit_YUV_RAW.7z"


UVG = Dataset(
    name="uvg",
    description="UVG: 7 natural 1080p 8-bit sequences at 120 fps (Beauty, Bosphorus, ... YachtRide)",
    homepage=UVG_HOME,
    license="CC BY-NC 3.0 (non-commercial use, with attribution)",
    sequences=tuple(
        SequenceInfo(
            name,
            1920,
            1080,
            120,
            frames,
            filename=_uvg_file(name),
            source=f"{UVG_PAPER}; {UVG_VIDEO_URL}{_uvg_archive(stem)}",
        )
        for name, stem, frames in _UVG
    ),
    downloads=tuple(
        Download(url=UVG_VIDEO_URL + _uvg_archive(stem), filename=_uvg_archive(stem), sequences=(name,))
        for name, stem, _ in _UVG
    ),
)

# (number, frame rate); every MCL-JCV source lasts 5 seconds.
_MCL_JCV_FPS = (
    (1, 30), (2, 30), (3, 30), (4, 30), (5, 25), (6, 25), (7, 25), (8, 25), (9, 25), (10, 30),
    (11, 30), (12, 30), (13, 30), (14, 30), (15, 30), (16, 30), (17, 24), (18, 25), (19, 30), (20, 25),
    (21, 24), (22, 24), (23, 24), (24, 24), (25, 24), (26, 30), (27, 30), (28, 30), (29, 24), (30, 30),
)  # fmt: skip

MCL_JCV = Dataset(
    name="mcl-jcv",
    description="MCL-JCV: 30 natural 1080p 8-bit sources, 5 s each at 24, 25 or 30 fps",
    homepage=MCL_JCV_HOME,
    license="USC MCL terms on the dataset page (research use; cite the ICIP 2016 paper)",
    sequences=tuple(
        SequenceInfo(
            f"videoSRC{n:02d}",
            1920,
            1080,
            fps,
            5 * fps,
            filename=f"videoSRC{n:02d}_1920x1080_{fps}.yuv",
            source=f"{MCL_JCV_PAPER}; {MCL_JCV_HOME}",
        )
        for n, fps in _MCL_JCV_FPS
    ),
    instructions=(
        "MCL-JCV is not downloaded by codecbench: the authors distribute it as many large zip parts\n"
        f"that also hold thousands of encoded clips. Get it from {MCL_JCV_HOME}\n"
        f"(or the authors' Hugging Face mirror {MCL_JCV_MIRROR}), then either\n"
        "  - put the 30 raw 1080p sources videoSRC01_1920x1080_30.yuv ... videoSRC30_1920x1080_30.yuv\n"
        "    (names as distributed: videoSRCNN_1920x1080_FPS.yuv) directly in the root folder, or\n"
        "  - put the downloaded .zip/.tar/.7z archives in the root folder: `fetch` extracts only those\n"
        "    30 files from them (wherever they sit inside) and validates them."
    ),
)

_CTC = "https://jvet-experts.org (JVET CTC); https://www.itu.int/wftp3/av-arch/jctvc-site (JCT-VC CTC)"
_HEVC = "HEVC CTC JCTVC-L1100; HM cfg/per-sequence"
_VVC = "VVC CTC (JVET); VTM cfg/per-sequence"
_CLASS_B = (
    # name, file name, fps, frames, bit depth, where the metadata is specified
    ("BasketballDrive", "BasketballDrive_1920x1080_50.yuv", 50, 500, 8, _HEVC),
    ("BQTerrace", "BQTerrace_1920x1080_60.yuv", 60, 600, 8, _HEVC),
    ("Cactus", "Cactus_1920x1080_50.yuv", 50, 500, 8, _HEVC),
    ("Kimono1", "Kimono1_1920x1080_24.yuv", 24, 240, 8, _HEVC),
    ("ParkScene", "ParkScene_1920x1080_24.yuv", 24, 240, 8, _HEVC),
    ("MarketPlace", "MarketPlace_1920x1080_60fps_10bit_420.yuv", 60, 600, 10, _VVC),
    ("RitualDance", "RitualDance_1920x1080_60fps_10bit_420.yuv", 60, 600, 10, _VVC),
)

CLASS_B = Dataset(
    name="class-b",
    description="HEVC/JVET CTC Class B: 7 1080p sequences (5 8-bit from HEVC CTC, 2 10-bit from VVC CTC)",
    homepage="https://jvet-experts.org",
    license="JCT-VC/JVET test material: use under each contributor's copyright terms",
    sequences=tuple(
        SequenceInfo(name, 1920, 1080, fps, frames, depth, filename=file, source=f"{spec}; {_CTC}")
        for name, file, fps, frames, depth, spec in _CLASS_B
    ),
    instructions=(
        "Class B is licensed test material: codecbench cannot download it. The sequences are\n"
        "distributed to JCT-VC/JVET participants through the JVET test-sequence servers (ask the JVET\n"
        "chairs or your standards delegate for access) under each contributor's copyright terms.\n"
        "Put these files, with exactly these names, directly in the root folder:\n"
        + "\n".join(f"  {f}  ({fps} fps, {n} frames, {depth}-bit)" for _, f, fps, n, depth, _ in _CLASS_B)
        + "\nArchives (.zip/.tar/.7z) holding them may be put in the root folder instead;"
        " `fetch` extracts them."
    ),
)
