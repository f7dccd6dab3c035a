"""vsr.SRGAN(backend="ort" | "ov"): the generator on vs-mlrt's plugins gives the torch backend's
pictures (windows, scene cuts, tiles, formats, props); its ONNX graph is cached by every setting
that changes it; backends that cannot run say why in one line."""

import numpy as np
import pytest
import torch
import vapoursynth as vs
from test_vsfilter import model_file, moving_clip  # noqa: F401 (model_file is a fixture)

from vsvsr import mlrt
from vsvsr.vapoursynth_plugin import SRGAN as srgan
from vsvsr.vsfilter import frame_to_tensor

core = vs.core
# Small tiles, so an 40x32 frame has six and the x4 pass's 80x64 frame twenty: the blend matters.
TILING = dict(tile=16, overlap=2, precision="fp32")


@pytest.fixture(autouse=True)
def cache(tmp_path_factory, monkeypatch):
    """One graph cache for the module: the tests share exported graphs, as a user's calls do."""
    folder = tmp_path_factory.getbasetemp() / "mlrt_cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    return folder / "vsvsr" / "mlrt"


def with_cut(clip: vs.VideoNode, at: int) -> vs.VideoNode:
    """`clip` with a scene starting at frame `at`, marked as scd.Detect marks it."""
    return clip[:at] + clip[at].std.SetFrameProps(_SceneChangePrev=1) + clip[at + 1 :]


def largest_difference(a: vs.VideoNode, b: vs.VideoNode) -> float:
    assert (a.format.id, a.width, a.height, a.num_frames) == (b.format.id, b.width, b.height, b.num_frames)
    return max(float((frame_to_tensor(fa) - frame_to_tensor(fb)).abs().max()) for fa, fb in zip(a.frames(), b.frames()))


@pytest.fixture(scope="module")
def torch_outputs(model_file):
    """The torch backend's x2 and x4 of a clip with a scene cut at frame 5 (computed once)."""
    clip = with_cut(moving_clip(length=9), 5)
    return clip, {scale: srgan(clip, weights=model_file, scale=scale, **TILING) for scale in (2, 4)}


@pytest.mark.parametrize("backend", ["ort", "ov"])
@pytest.mark.parametrize("scale", [2, 4])
def test_backends_match_torch_across_a_scene_cut(model_file, torch_outputs, backend, scale):
    clip, by_scale = torch_outputs
    out = srgan(clip, weights=model_file, scale=scale, backend=backend, **TILING)
    assert largest_difference(out, by_scale[scale]) < 1e-4
    if backend == "ort" and scale == 2:
        # Positive control: without the cut the windows near frame 5 read the other scene.
        uncut = srgan(moving_clip(length=9), weights=model_file, backend=backend, **TILING)
        assert float((frame_to_tensor(uncut.get_frame(4)) - frame_to_tensor(out.get_frame(4))).abs().max()) > 1e-3


def test_yuv_in_yuv_out_with_props_as_torch(model_file):
    clip = moving_clip(vs.YUV420P10, length=6).std.SetFrameProps(_Transfer=1, _Primaries=1, _SARNum=4, _SARDen=3)
    torch_out = srgan(clip, weights=model_file, **TILING)
    out = srgan(clip, weights=model_file, backend="ort", **TILING)
    assert (out.format.id, out.width, out.height) == (vs.YUV420P10, 80, 64)
    for n in (0, 3, 5):
        a, b = out.get_frame(n), torch_out.get_frame(n)
        assert dict(a.props) == dict(b.props)
        assert max(np.abs(np.asarray(a[p], np.int32) - np.asarray(b[p], np.int32)).max() for p in range(3)) <= 1


def test_graph_is_cached_and_keyed_on_the_window_positions(model_file, cache, monkeypatch):
    clip = moving_clip(length=6)
    srgan(clip, weights=model_file, backend="ort", **TILING).get_frame(0)
    exported = sorted(cache.glob("*.onnx"))
    assert exported and not list(cache.glob("*.tmp"))

    calls = []
    export = mlrt.export_onnx
    monkeypatch.setattr(mlrt, "export_onnx", lambda *a, **k: calls.append(a) or export(*a, **k))
    srgan(clip, weights=model_file, backend="ov", **TILING).get_frame(0)  # same graph, another runtime
    assert calls == []
    # Centre mode keeps another window position: a new graph, and still torch's pictures.
    centre = srgan(clip, weights=model_file, backend="ort", mode="centre", **TILING)
    assert len(calls) == 1 and len(sorted(cache.glob("*.onnx"))) == len(exported) + 1
    assert largest_difference(centre, srgan(clip, weights=model_file, mode="centre", **TILING)) < 1e-4


def test_new_weights_in_the_same_file_invalidate_the_graph(model_file, tmp_path):
    from vsvsr import models, weights

    clip = moving_clip(length=4)
    path = tmp_path / "m.safetensors"
    outs = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        weights.save(models.build("lite", num_blocks=1), path)
        outs.append(srgan(clip, weights=str(path), backend="ort", mode="fast", **TILING))
        assert largest_difference(outs[-1], srgan(clip, weights=str(path), mode="fast", **TILING)) < 1e-4


def test_interlaced_frames_are_refused_per_frame(model_file):
    clip = moving_clip(length=8)
    clip = clip[:6] + clip[6].std.SetFrameProps(_FieldBased=2) + clip[7:]
    out = srgan(clip, weights=model_file, backend="ort", **TILING)
    out.get_frame(0)
    with pytest.raises(vs.Error, match="interlaced .* frame 6"):
        out.get_frame(6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"backend": "onnx"}, r"^vsr.SRGAN: backend must be one of torch, ort, ov, trt, ncnn, not 'onnx'$"),
        ({"backend": "trt"}, r"^vsr.SRGAN: backend='trt' needs .*; install it: pip install vapoursynth-mlrt-trt$"),
        ({"backend": "ncnn"}, r"^vsr.SRGAN: backend='ncnn' cannot run this generator .*; use backend='ort'"),
        ({"backend": "ort", "precision": "bf16"}, r"^vsr.SRGAN: precision must be fp32 or fp16 with backend='ort', "
                                                  r"not 'bf16'; bf16 runs with backend='ov'$"),  # fmt: skip
        ({"backend": "ov", "device": "cuda"}, r"^vsr.SRGAN: device must be cpu\[:N\] or gpu\[:N\] with backend='ov'"),
    ],
)
def test_errors_name_the_fix(model_file, kwargs, message):
    with pytest.raises(vs.Error, match=message) as err:
        srgan(moving_clip(length=2), weights=model_file, **kwargs)
    assert "\n" not in str(err.value)


def test_the_plugin_forwards_backend(model_file):
    with pytest.raises(vs.Error, match="pip install vapoursynth-mlrt-trt"):
        core.vsr.SRGAN(moving_clip(length=2), weights=model_file, backend="trt")


def test_community_models_are_refused_with_the_fix(tmp_path):
    from spandrel.architectures.Compact import Compact

    torch.save(Compact(num_feat=8, num_conv=2, upscale=2).state_dict(), tmp_path / "2x-compact.pth")
    with pytest.raises(vs.Error, match=r"^vsr.SRGAN: backend='ort' runs vsvsr's own window models, not community "
                                       r"models like 2x-compact.pth; use backend='torch' for it$"):  # fmt: skip
        srgan(moving_clip(length=2), weights=str(tmp_path / "2x-compact.pth"), backend="ort")
