"""vsvsr: spatio-temporal SRGAN video super-resolution for VapourSynth and ffmpeg."""

__version__ = "0.1.0"
