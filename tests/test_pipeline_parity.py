"""The same frames through `vsvsr upscale` and through core.vsr.SRGAN come out identical.

Both adapters convert to float RGB with zimg (VapourSynth's resize, ffmpeg's zscale) using the
source's colour tags, run the one engine with the same scene cuts, and convert back with zimg;
encoded losslessly (FFV1, 10-bit like the source). From RGB every sample matches. From 4:2:0
Y'CbCr the two zimg builds (VapourSynth's own, Debian's under ffmpeg) may round the matrix and
chroma upsampling one float ulp apart on some CPUs (AVX2 without AVX-512: 1.2e-7 here), which
after the generator can move a rare 10-bit sample by one level: the test allows exactly that.
"""

import subprocess

import numpy as np
import pytest
import vapoursynth as vs
from pipeline_media import decode, tiny_weights

from vsvsr.cli import main

core = vs.core
HALF = 12  # frames per scene


FORMATS = {"gbrp10le": vs.RGB30, "yuv420p10le": vs.YUV420P10}


@pytest.fixture(scope="module", params=list(FORMATS))
def source(tmp_path_factory, request):
    """Two scenes (testsrc2, then mandelbrot), 10-bit RGB or 4:2:0, BT.709, lossless."""
    path = tmp_path_factory.mktemp("parity") / f"two_scenes_{request.param}.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc2=s=64x48:r=24:d={HALF / 24}",
                    "-f", "lavfi", "-i", f"mandelbrot=s=64x48:r=24,trim=duration={HALF / 24}",
                    "-filter_complex", "[0][1]concat=n=2", "-pix_fmt", request.param, "-c:v", "ffv1",
                    "-colorspace", "rgb" if request.param.startswith("gbr") else "bt709", "-color_primaries", "bt709",
                    "-color_trc", "bt709", "-color_range", "pc" if request.param.startswith("gbr") else "tv",
                    str(path)], check=True)  # fmt: skip
    return path, request.param


@pytest.mark.parametrize("scale", [2, 4])
def test_upscale_and_core_vsr_srgan_give_identical_frames(source, tmp_path, scale):
    source, pix_fmt = source
    model = tiny_weights(tmp_path / "tiny.safetensors")
    output = tmp_path / "out.mkv"
    assert main(["upscale", str(source), str(output), "--weights", model, "--scale", str(scale), "--precision", "fp32",
                 "--codec", "ffv1", "--quiet"]) == 0  # fmt: skip

    clip = core.bs.VideoSource(str(source))
    # scdet finds the cut at HALF (test_pipeline checks that); give VapourSynth the same cut.
    cut = clip[:HALF] + clip[HALF].std.SetFrameProps(_SceneChangePrev=1) + clip[HALF + 1 :]
    theirs = core.vsr.SRGAN(cut, scale=scale, weights=model, precision="fp32")
    assert theirs.format.id == FORMATS[pix_fmt]

    w, h = 64 * scale, 48 * scale
    samples = h * w * 3 if pix_fmt == "gbrp10le" else h * w * 3 // 2
    ours = decode(output, pix_fmt, np.uint16, (samples,)).astype(np.int32)
    assert len(ours) == theirs.num_frames == 2 * HALF
    expected = np.stack([np.concatenate([np.asarray(theirs.get_frame(n)[p]).ravel() for p in range(3)])
                         for n in range(theirs.num_frames)]).astype(np.int32)  # fmt: skip
    if pix_fmt == "gbrp10le":
        # ffmpeg orders planar RGB G, B, R; VapourSynth R, G, B.
        expected = expected.reshape(len(expected), 3, -1)[:, [1, 2, 0]].reshape(len(expected), -1)
        assert np.array_equal(ours, expected)
    else:
        differ = ours != expected
        assert np.abs(ours - expected).max() <= 1 and differ.mean() < 1e-3, (np.abs(ours - expected).max(), differ.mean())
