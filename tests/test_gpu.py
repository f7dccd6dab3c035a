"""The CUDA path: fp16 by default, streams, the plugin on the GPU. Skipped without CUDA."""

import threading

import pytest
import torch

import vsvsr.models as models
from conftest import perturb_nonlocal
from vsvsr.engine import Engine, Settings

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return perturb_nonlocal(models.build("lite")).eval()


def frames(n=7, h=72, w=88):
    return torch.rand(n, 3, h, w, generator=torch.Generator().manual_seed(0))


def test_fp16_is_the_cuda_default_and_stays_close_to_fp32(model):
    clip = frames()
    half = Engine(model, Settings(device="cuda"))
    assert half.settings.precision == "fp16"
    full = Engine(model, Settings(device="cuda", precision="fp32"))
    out = half.upscale_clip(clip)
    assert out.dtype == torch.float32 and out.device.type == "cpu"
    assert (out - full.upscale_clip(clip)).abs().max() < 0.02


def test_the_reach_gate_in_fp16_on_cuda_stays_close_to_the_cpu(model):
    """The gate measures luma in the model's dtype: in fp16 its levels must still decide the same."""
    gated = models.build("lite", neighbour_reach=1)
    gated.load_state_dict(model.state_dict())
    clip = frames()
    clip[:, :, :, :44] = clip[:1, :, :, :44]  # the left half still (gates open), the right half new noise (closed)
    cpu = Engine(gated, Settings(device="cpu", precision="fp32")).upscale_clip(clip)
    half = Engine(gated, Settings(device="cuda")).upscale_clip(clip)
    assert (half - cpu).abs().max() < 0.02


def test_concurrent_streams_give_the_sequential_frames(model):
    clip = frames(20)
    engine = Engine(model, Settings(device="cuda", precision="fp32"), num_streams=2)
    sequential = engine.upscale_clip(clip)
    server = engine.clip(20, cache_windows=8)
    out = {}

    def work(ns):
        for n in ns:
            out[n] = server.frame(n, clip.__getitem__)

    pool = [threading.Thread(target=work, args=(range(k, 20, 2),)) for k in range(2)]
    [t.start() for t in pool]
    [t.join() for t in pool]
    assert all(torch.equal(out[n], sequential[n]) for n in range(20))


def test_plugin_on_cuda(tmp_path, model):
    vs = pytest.importorskip("vapoursynth")
    from vsvsr import weights
    from vsvsr.vapoursynth_plugin import SRGAN

    path = weights.save(model, tmp_path / "m.safetensors")
    clip = vs.core.std.BlankClip(format=vs.YUV420P10, width=96, height=64, length=6)
    out = SRGAN(clip, weights=str(path), device="cuda", num_streams=2)
    assert [out.get_frame(n).width for n in range(6)] == [192] * 6
