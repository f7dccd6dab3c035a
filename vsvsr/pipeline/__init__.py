"""The ffmpeg pipeline behind `vsvsr upscale`: any file ffmpeg reads in, an upscaled encode out.

A thin adapter over the engine, like the VapourSynth one: ffmpeg decodes (after `--vf-pre`) to
float RGB through a pipe, the engine upscales, ffmpeg encodes (after `--vf-post`) from a pipe,
and the input's other streams are copied in. One module per step:

    probe.py     what the input holds: video format, colour, other streams (ffprobe)
    scan.py      the filtered video's size and exact rate; frame count and scene cuts (scdet)
    seek.py      where a decoder may start: keyframes where a seek is exact
    decode.py    frames for the engine, read ahead from an ffmpeg subprocess
    encode.py    encode options and a segment encoder fed from a pipe
    segments.py  fixed segments and the state file that makes a job resumable
    mux.py       joining segments losslessly, copying audio, subtitles, chapters, metadata
    render.py    one segment: decoded frames through the engine into its file
    cluster.py   --workers N: segments as Ray tasks, on this machine or a cluster
    job.py       the whole job, checks first
    tools.py     running ffmpeg: errors as one line; commands via ffmpeg-python, user filter chains
"""

from .cluster import ClusterOptions
from .encode import EncodeOptions
from .job import UpscaleOptions, UpscaleReport, upscale
from .tools import Interrupted, PipelineError

__all__ = ["ClusterOptions", "EncodeOptions", "Interrupted", "PipelineError", "UpscaleOptions", "UpscaleReport", "upscale"]
