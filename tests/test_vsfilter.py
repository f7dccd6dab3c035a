"""vsr.SRGAN's VapourSynth side: formats, props, scene cuts, request order, errors."""

import hashlib
import random

import numpy as np
import pytest
import torch
import vapoursynth as vs

import vsvsr.models as models
from conftest import perturb_nonlocal
from vsvsr import weights
from vsvsr.engine import Engine, Settings
from vsvsr.vapoursynth_plugin import SRGAN as srgan
from vsvsr.vsfilter import frame_to_tensor

core = vs.core


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    torch.manual_seed(0)
    model = perturb_nonlocal(models.build("lite", num_blocks=1), seed=1)
    return str(weights.save(model, tmp_path_factory.mktemp("w") / "tiny.safetensors"))


def moving_clip(fmt: int = vs.RGBS, length: int = 10, w: int = 40, h: int = 32, seed: int = 0) -> vs.VideoNode:
    """A clip of random frames (in RGBS, converted to `fmt`): each frame distinct."""
    rng = np.random.default_rng(seed)
    frames = rng.random((length, 3, h, w), dtype=np.float32)
    blank = core.std.BlankClip(format=vs.RGBS, width=w, height=h, length=length)

    def fill(n, f):
        out = f.copy()
        for p in range(3):
            np.copyto(np.asarray(out[p]), frames[n, p])
        return out

    clip = blank.std.ModifyFrame(blank, fill)
    if fmt == vs.RGBS:
        return clip
    family = core.get_video_format(fmt).color_family
    return clip.resize.Bicubic(format=fmt, matrix_s="709" if family != vs.RGB else None)


def run(clip, model_file, **kw):
    return srgan(clip, weights=model_file, precision="fp32", **kw)


def digests(clip, order):
    return {n: hashlib.sha256(np.asarray(clip.get_frame(n)[0]).tobytes()).hexdigest() for n in order}


@pytest.mark.parametrize("fmt", [vs.YUV420P8, vs.YUV420P10, vs.GRAY8, vs.RGB24, vs.RGBH, vs.YUV444PS])
def test_formats_round_trip_with_props(model_file, fmt):
    clip = moving_clip(fmt, length=4).std.SetFrameProps(_Transfer=1, _Primaries=1, _SARNum=4, _SARDen=3)
    out = run(clip, model_file)
    assert (out.format.id, out.width, out.height, out.num_frames) == (fmt, 80, 64, 4)
    props = out.get_frame(2).props
    assert (props["_Transfer"], props["_Primaries"], props["_SARNum"], props["_SARDen"]) == (1, 1, 4, 3)
    assert props["_DurationDen"] == clip.get_frame(2).props["_DurationDen"]


def test_x4_size(model_file):
    out = run(moving_clip(vs.YUV420P10, length=3), model_file, scale=4)
    assert (out.width, out.height, out.format.id) == (160, 128, vs.YUV420P10)
    out.get_frame(1)


def test_rgbs_output_is_exactly_the_engine_output(model_file):
    clip = moving_clip(length=7)
    out = run(clip, model_file)
    engine = Engine(weights.load(model_file), Settings(precision="fp32"))
    expected = engine.upscale_clip(torch.stack([frame_to_tensor(f) for f in clip.frames()]))
    for n in range(7):
        assert torch.equal(frame_to_tensor(out.get_frame(n)), expected[n])


def test_positive_control_and_scene_cuts_from_props(model_file):
    clip = moving_clip(length=12)
    noise = moving_clip(length=12, seed=9)
    # Replace frames 0-5 by other content; frame 6 starts a new scene (as scd.Detect marks it).
    mixed = noise[:6] + clip[6:]
    base = run(clip, model_file)
    assert digests(run(mixed, model_file), [6]) != digests(base, [6])  # without the cut, it leaks
    cut_props = lambda c: c.std.SetFrameProps(_SceneChangePrev=0)[:6] + c[6].std.SetFrameProps(_SceneChangePrev=1) + c[7:]  # noqa: E731
    with_cut = run(cut_props(clip), model_file)
    mixed_cut = run(cut_props(mixed), model_file)
    assert digests(with_cut, range(6, 12)) == digests(mixed_cut, range(6, 12))
    # _SceneChangeNext on the frame before the cut says the same.
    next_marked = clip[:5] + clip[5].std.SetFrameProps(_SceneChangeNext=1) + clip[6:]
    assert digests(run(next_marked, model_file), range(12)) == digests(with_cut, range(12))


def test_request_order_and_concurrency_do_not_change_frames(model_file):
    clip = moving_clip(length=14)
    sequential = digests(run(clip, model_file), range(14))
    order = list(range(14))
    random.Random(1).shuffle(order)
    assert digests(run(clip, model_file), order) == sequential
    out = run(clip, model_file)
    futures = {n: out.get_frame_async(n) for n in order}
    concurrent = {n: hashlib.sha256(np.asarray(f.result()[0]).tobytes()).hexdigest() for n, f in futures.items()}
    assert concurrent == sequential


@pytest.mark.parametrize("length", [1, 2])
def test_short_clips(model_file, length):
    out = run(moving_clip(length=length), model_file)
    assert [out.get_frame(n).width for n in range(length)] == [80] * length


@pytest.mark.parametrize(
    "clip, kwargs, message",
    [
        (lambda: moving_clip(), {"scale": 3}, "scale must be 2 or 4"),
        (lambda: moving_clip(), {"weights": "/nonexistent/x.safetensors"}, "does not exist"),
        (lambda: moving_clip(), {"model": "huge", "weights": None}, "unknown model 'huge'"),
        (lambda: moving_clip(), {"model": "rrdb", "weights": None}, "no shipped weights yet"),
        (lambda: moving_clip(), {"model": "lite"}, "either model= .* or weights="),
        (lambda: moving_clip(), {"tile": 4}, "tile must be at least"),
        (lambda: moving_clip(), {"overlap": 40}, "overlap must be between"),
        (lambda: moving_clip(), {"window": 0}, "window must be at least 1"),
        (lambda: moving_clip(), {"precision": "fp8"}, "precision must be one of"),
        (lambda: moving_clip(), {"scale": "2"}, r"scale must be the integer 2 or 4, not the string '2'; pass scale=2"),
        (lambda: moving_clip(), {"scale": 2.0}, r"scale must be the integer 2 or 4, not 2\.0"),
        (lambda: moving_clip(), {"tile": "64"}, r"tile must be an integer, not the string '64'; pass tile=64"),
        (lambda: moving_clip(), {"device": "banana"},
         r"^vsr\.SRGAN: device must be cpu, cuda or cuda:N \(N: the GPU's number\), not 'banana'; pass one of those"),
        (lambda: moving_clip(w=6, h=32), {}, "at least 8x8"),
        (lambda: moving_clip().std.SetFrameProps(_FieldBased=2), {}, "interlaced.*bwdif"),
        (lambda: core.std.Splice([moving_clip(), moving_clip(vs.YUV420P8)], mismatch=True), {}, "constant format"),
        (lambda: core.std.Splice([moving_clip(), moving_clip(w=48)], mismatch=True), {}, "constant size"),
    ],
)
def test_errors_name_the_fix(model_file, clip, kwargs, message):
    args = {"weights": model_file, **kwargs}
    with pytest.raises(vs.Error, match=message):
        srgan(clip(), precision=args.pop("precision", "fp32"), **args)


def test_interlaced_frames_after_the_first_are_refused_per_frame(model_file):
    clip = moving_clip(length=8)
    marked = clip[:5] + clip[5:].std.SetFrameProps(_FieldBased=1)
    out = run(marked, model_file)  # frame 0 is progressive: the filter is created
    out.get_frame(0)
    for n in (5, 7):
        with pytest.raises(vs.Error, match=r"vsr\.SRGAN: clip is interlaced \(_FieldBased is set on frame [5-7]\); "
                                           r"deinterlace it first, e.g\. clip = core\.bwdif\.Bwdif"):  # fmt: skip
            out.get_frame(n)


def test_default_model_explains_itself_while_none_ships(monkeypatch, tmp_path):
    monkeypatch.setattr(weights, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(vs.Error, match="no trained model ships yet; pass weights="):
        srgan(moving_clip())
