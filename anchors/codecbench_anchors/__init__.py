"""The anchors: HEVC (x265), VVC (VVenC) and AV1 (libaom) through ffmpeg, and the HM/VTM reference software.

Each is a codec plugin registered in the ``codecbench.codecs`` entry-point group. See README.md for
the configurations (low delay or random access), the rate ladders and why the defaults are what they are.
"""
