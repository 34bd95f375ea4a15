"""DiV-INR: extreme low-bitrate diffusion video compression with INR conditioning, as a codecbench codec.

Çetin, Relic, Xue, Gross, Schroers, Azevedo (ETH Zurich, Disney Research), 2026. See docs/divinr.md.
"""

__version__ = "0.1.0"
