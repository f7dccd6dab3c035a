"""The same frames through `vsvsr upscale` and through core.vsr.SRGAN come out identical.

Both adapters convert to float RGB with zimg (VapourSynth's resize, ffmpeg's zscale) using the
source's colour tags, run the one engine with the same scene cuts, and convert back with zimg;
encoded losslessly (FFV1, 10-bit 4:2:0 like the source), every sample matches.
"""

import subprocess

import numpy as np
import pytest
import vapoursynth as vs
from pipeline_media import decode, tiny_weights

from vsvsr.cli import main

core = vs.core
HALF = 12  # frames per scene


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """Two scenes (testsrc2, then mandelbrot), 10-bit 4:2:0, BT.709, lossless."""
    path = tmp_path_factory.mktemp("parity") / "two_scenes.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=s=64x48:r=24:d={HALF / 24}",
                    "-f", "lavfi", "-i", f"mandelbrot=s=64x48:r=24,trim=duration={HALF / 24}",
                    "-filter_complex", "[0][1]concat=n=2", "-pix_fmt", "yuv420p10le", "-c:v", "ffv1",
                    "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv",
                    str(path)], check=True)  # fmt: skip
    return path


@pytest.mark.parametrize("scale", [2, 4])
def test_upscale_and_core_vsr_srgan_give_identical_frames(source, tmp_path, scale):
    model = tiny_weights(tmp_path / "tiny.safetensors")
    output = tmp_path / "out.mkv"
    assert main(["upscale", str(source), str(output), "--weights", model, "--scale", str(scale), "--precision", "fp32",
                 "--codec", "ffv1", "--quiet"]) == 0  # fmt: skip

    clip = core.bs.VideoSource(str(source))
    # scdet finds the cut at HALF (test_pipeline checks that); give VapourSynth the same cut.
    cut = clip[:HALF] + clip[HALF].std.SetFrameProps(_SceneChangePrev=1) + clip[HALF + 1 :]
    theirs = core.vsr.SRGAN(cut, scale=scale, weights=model, precision="fp32")
    assert theirs.format.id == vs.YUV420P10

    w, h = 64 * scale, 48 * scale
    ours = decode(output, "yuv420p10le", np.uint16, (h * w * 3 // 2,))
    assert len(ours) == theirs.num_frames == 2 * HALF
    for n in range(theirs.num_frames):
        frame = theirs.get_frame(n)
        expected = np.concatenate([np.asarray(frame[p]).ravel() for p in range(3)])
        assert np.array_equal(ours[n], expected), f"frame {n} differs"
