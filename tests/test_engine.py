"""The engine: windows on a fixed grid, scene cuts, cache, tiles and seams, x4, precision."""

import hashlib
import random
import threading

import pytest
import torch

import vsvsr.models as models
from conftest import perturb_nonlocal
from vsvsr.engine import Engine, Settings, TileGrid, WindowGrid, resolve
from vsvsr.engine.settings import default_batch, default_precision
from vsvsr.weights import descriptor_of


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return perturb_nonlocal(models.build("lite", num_blocks=1), seed=1).eval()


def clip_frames(n: int, h: int = 24, w: int = 28, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 3, h, w, generator=torch.Generator().manual_seed(seed))


def engine(model, **kw) -> Engine:
    return Engine(model, Settings(precision="fp32", **kw))


def digest(t: torch.Tensor) -> str:
    return hashlib.sha256(t.numpy().tobytes()).hexdigest()


# -- windows -----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["context", "fast", "centre"])
@pytest.mark.parametrize("length, cuts", [(1, []), (2, []), (17, []), (17, [5, 6, 12])])
def test_grid_produces_every_frame_once_within_its_scene(mode, length, cuts):
    grid = WindowGrid(length, 5, cuts, mode)
    produced = [n for w in grid.windows() for n in range(w.first, w.first + w.count)]
    assert produced == list(range(length))
    for n in range(length):
        w = grid.window_of(n)
        lo, hi = grid.scene_of(n)
        assert all(lo <= f < hi for f in w.frames)  # never crosses a cut
        assert w.frames[w.position(n)] == n
        if hi - lo >= 5:  # real frames only: a window repeats frames only in a scene shorter than itself
            assert w.frames == tuple(range(w.start, w.start + 5))
        if mode == "context" and lo < n < hi - 1:  # a neighbour on both sides, within the scene
            pos = w.position(n)
            assert 1 <= pos <= 3


def test_centre_mode_centres_every_frame_the_scene_allows():
    grid = WindowGrid(10, 5, [], "centre")
    assert grid.window_of(4).frames == (2, 3, 4, 5, 6)
    assert grid.window_of(0).frames == grid.window_of(1).frames == (0, 1, 2, 3, 4)
    assert grid.window_of(9).frames == (5, 6, 7, 8, 9)
    assert WindowGrid(10, 5, [8], "centre").window_of(8).frames == (8, 8, 8, 9, 9)  # a 2-frame scene


def test_windows_at_a_cut_slide_inside_the_scene_and_keep_their_frames():
    grid = WindowGrid(20, 5, [7], "context")  # the grid's windows start at -1, 2, 5, 8, ...
    before, after = grid.window_of(6), grid.window_of(7)
    assert before.frames == (2, 3, 4, 5, 6) and before.position(6) == 4  # not (5, 6, 6, 6, 6)
    assert after.frames == (7, 8, 9, 10, 11) and after.position(7) == 0 and after.count == 2  # 7, 8
    assert grid.window_of(9).frames == (8, 9, 10, 11, 12)  # inside the scene, the grid as it was
    end = WindowGrid(19, 5, [], "context")
    last, before_last = end.window_of(18), end.window_of(17)
    assert last.frames == before_last.frames == (14, 15, 16, 17, 18)  # the last window slid onto the one before
    assert last.key != before_last.key and (last.first, last.count) == (18, 1)  # still computed on its own


# -- temporal behaviour --------------------------------------------------------------------------


def test_positive_control_next_frame_changes_output(model):
    """Without this, the temporal tests below could pass on a model that ignores time."""
    frames = clip_frames(8)
    changed = frames.clone()
    changed[2] = torch.rand(3, 24, 28)
    a = engine(model).clip(8).frame(1, frames.__getitem__)
    b = engine(model).clip(8).frame(1, changed.__getitem__)
    assert not torch.equal(a, b)


def test_request_order_and_threads_do_not_change_frames(model):
    frames = clip_frames(13)
    eng = engine(model)

    def run(order, threads=1):
        server = eng.clip(13)
        out = {}
        if threads == 1:
            for n in order:
                out[n] = digest(server.frame(n, frames.__getitem__, [7]))
        else:
            def work(ns):
                for n in ns:
                    out[n] = digest(server.frame(n, frames.__getitem__, [7]))
            pool = [threading.Thread(target=work, args=(order[k::threads],)) for k in range(threads)]
            [t.start() for t in pool]
            [t.join() for t in pool]
        return out

    sequential = run(list(range(13)))
    shuffled = list(range(13))
    random.Random(0).shuffle(shuffled)
    assert run(shuffled) == sequential
    assert run(shuffled * 2, threads=4) == sequential


def test_scene_cut_isolates_scenes(model):
    frames = clip_frames(12)
    noisy = frames.clone()
    noisy[:6] = torch.rand(6, 3, 24, 28)
    a = engine(model).upscale_clip(frames, cuts=[6])
    b = engine(model).upscale_clip(noisy, cuts=[6])
    assert torch.equal(a[6:], b[6:])
    uncut = engine(model).clip(12).frame(6, noisy.__getitem__)  # without the cut, the noise leaks in
    assert not torch.equal(uncut, a[6])


def test_a_request_needs_only_the_cuts_within_reach(model):
    """The VapourSynth filter knows only the cuts near n (from frame props): a far cut must not
    change frame n, its window's cache key, or the frames it reads."""
    frames = clip_frames(30)
    eng = engine(model, scale=4)
    server = eng.clip(30)
    assert server.reach == 2 * 5
    near = server.frame(5, frames.__getitem__, [8])
    assert server.needs(5, [8]) == server.needs(5, [8, 25])
    evaluated = eng.frames_evaluated
    assert torch.equal(server.frame(5, frames.__getitem__, [8, 25]), near)
    assert eng.frames_evaluated == evaluated  # the same windows, served from the cache
    assert server.needs(5, [8]) != server.needs(5)


def test_the_lowest_frame_needed_never_decreases(model):
    """The pipeline drops decoded frames below `needs(n)[0]`: later frames must not reach back."""
    for mode in ("context", "fast", "centre"):
        server = engine(model, scale=4, mode=mode).clip(40)
        lowest = [server.needs(n, [9, 10, 23])[0] for n in range(40)]
        assert lowest == sorted(lowest) and lowest[-1] > 0


@pytest.mark.parametrize("length", [1, 2, 3])
def test_short_clips_replicate(model, length):
    frames = clip_frames(length)
    assert engine(model).upscale_clip(frames).shape == (length, 3, 48, 56)


@pytest.mark.parametrize("mode, per_frame", [("context", 5 / 3), ("fast", 1.0), ("centre", 5.0)])
def test_evaluations_per_output_frame(model, mode, per_frame):
    length = 30  # a multiple of every stride, so no partial window at the end
    frames = clip_frames(length)
    eng = engine(model, mode=mode)
    server = eng.clip(length)
    for n in range(length):
        server.frame(n, frames.__getitem__)
    assert eng.frames_evaluated == round(per_frame * length)
    assert eng.frames_produced == length  # context frames skip the trunk: each frame is made once
    assert server.cached_windows <= 2


def test_cuts_cost_a_bounded_number_of_extra_windows(model):
    frames = clip_frames(30)
    eng = engine(model, mode="fast")
    eng.upscale_clip(frames, cuts=[12])
    assert eng.frames_evaluated == 35  # one window straddles the cut and runs once per scene
    assert eng.frames_evaluated / 30 <= 1.25


def test_cache_stays_bounded_and_concurrent_requests_share_one_computation(model):
    frames = clip_frames(40, 16, 16)
    eng = engine(model)
    server = eng.clip(40, cache_windows=2)
    barrier = threading.Barrier(4)

    source = frames.__getitem__
    def work():
        barrier.wait()
        server.frame(4, source)

    pool = [threading.Thread(target=work) for _ in range(4)]
    [t.start() for t in pool]
    [t.join() for t in pool]
    assert eng.frames_evaluated == 5  # four requests, one window computation
    for n in range(40):
        server.frame(n, source)
    assert server.cached_windows == 2


# -- x4, tiles, precision -----------------------------------------------------------------------


def test_x4_equals_x2_applied_twice(model):
    frames = clip_frames(6, 20, 22)
    x2 = engine(model, scale=2)
    twice = x2.upscale_clip(x2.upscale_clip(frames))
    assert torch.equal(engine(model, scale=4).upscale_clip(frames), twice)
    assert twice.shape == (6, 3, 80, 88)


@pytest.mark.parametrize("h, w, tile, overlap", [(40, 50, 16, 4), (17, 33, 16, 2), (9, 9, 16, 4)])
def test_tiles_cover_the_frame_and_blend_to_identity(h, w, tile, overlap):
    grid = TileGrid(h, w, tile, overlap)
    assert all(0 <= t.y and t.y + t.h <= h and 0 <= t.x and t.x + t.w <= w for t in grid.tiles)
    image = torch.rand(3, 2 * h, 2 * w)  # an "upscaled" frame: merging its own tiles gives it back
    parts = [image[..., 2 * t.y : 2 * (t.y + t.h), 2 * t.x : 2 * (t.x + t.w)] for t in grid.tiles]
    assert torch.allclose(grid.merge(parts), image, atol=1e-6)


def seam_contrast(model, overlap: int) -> tuple[float, list[float]]:
    """Mean |tiled - untiled| and, per vertical tile border, the gradient energy across it in the
    tiled output relative to the same columns of the untiled output (1.0 = invisible)."""
    frames = torch.nn.functional.avg_pool2d(clip_frames(5, 64, 64, seed=3), 5, 1, 2)  # smooth content
    tiled = engine(model, tile=24, overlap=overlap).upscale_window(frames)
    whole = engine(model, tile=64).upscale_window(frames)

    def dx(img):  # mean |horizontal gradient| per column boundary
        return (img[..., 1:] - img[..., :-1]).abs().mean(dim=(0, 1, 2))

    ratios = [
        float(dx(tiled)[2 * t.x - 2 : 2 * t.x + 1].mean() / dx(whole)[2 * t.x - 2 : 2 * t.x + 1].mean())
        for t in TileGrid(64, 64, 24, overlap).tiles
        if t.y == 0 and t.x > 0
    ]
    return float((tiled - whole).abs().mean()), ratios


@pytest.fixture(scope="module")
def detailed():
    """The engine's test model with its detail made 4x stronger: a fresh lite adds much weaker
    detail than a trained one, too weak for hard tile cuts to show."""
    torch.manual_seed(0)
    model = perturb_nonlocal(models.build("lite", num_blocks=1), seed=1).eval()
    last = [m for m in model.upsample if isinstance(m, torch.nn.Conv2d)][-1]
    with torch.no_grad():
        last.weight.mul_(4)
        last.bias.mul_(4)
    return model


def test_no_visible_seams(detailed):
    difference, ratios = seam_contrast(detailed, overlap=4)
    assert difference < 1 / 255  # below one 8-bit level on average
    assert all(abs(r - 1) < 0.1 for r in ratios)
    # Negative control: hard cuts without overlap do show at the borders.
    _, hard = seam_contrast(detailed, overlap=0)
    assert any(abs(r - 1) > 0.1 for r in hard)


def test_frames_smaller_than_a_tile_and_odd_sizes(model):
    frames = clip_frames(3, 7, 11)
    out = engine(model, tile=64).upscale_window(frames)
    assert out.shape == (3, 3, 14, 22)


def test_precision_defaults_and_low_precision_closeness(model):
    assert default_precision(torch.device("cuda")) == "fp16"
    assert default_precision(torch.device("cpu")) in ("bf16", "fp32")
    frames = clip_frames(5, 32, 32)
    ref = engine(model).upscale_window(frames)
    low = Engine(model, Settings(precision="bf16")).upscale_window(frames)
    assert low.dtype == torch.float32
    assert (low - ref).abs().max() < 0.05
    assert model.expand.weight.dtype == torch.float32  # the caller's model is untouched


def test_default_batch_keeps_a_cpu_call_within_the_caches_and_a_given_batch_wins():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert default_batch(cpu, 64, "fp32") == 8 and default_batch(cpu, 64, "bf16") == 16  # half the bytes
    assert default_batch(cpu, 128, "fp32") == 2 and default_batch(cpu, 1024, "fp32") == 1
    assert default_batch(cpu, 16, "fp32") == 16  # small tiles: no more than CUDA's
    assert default_batch(cuda, 1024, "fp16") == 16
    lite = descriptor_of(models.build("lite"))  # tile 64
    assert resolve(Settings(device="cpu", precision="fp32"), lite).batch == 8
    assert resolve(Settings(device="cpu", precision="fp32", tile=128), lite).batch == 2
    assert resolve(Settings(device="cpu", precision="fp32", batch=3), lite).batch == 3


def test_batch_changes_calls_not_pictures(model):
    frames = clip_frames(5, 40, 72)
    one = Engine(model, Settings(tile=16, overlap=2, batch=1, precision="fp32"))
    many = Engine(model, Settings(tile=16, overlap=2, batch=7, precision="fp32"))
    assert torch.allclose(one.upscale_window(frames), many.upscale_window(frames), atol=1e-5)


@pytest.mark.parametrize(
    "settings, message",
    [
        (Settings(scale=3), "scale must be 2 or 4"),
        (Settings(tile=4), "tile must be at least 8"),
        (Settings(tile=64, overlap=20), "overlap must be between 0 and tile / 4"),
        (Settings(window=0), "window must be at least 1"),
        (Settings(mode="sideways"), "mode must be one of"),
        (Settings(precision="int8"), "precision must be one of"),
        (Settings(batch=0), "batch must be at least 1"),
    ],
)
def test_settings_errors_name_the_rule(settings, message):
    with pytest.raises(ValueError, match=message):
        resolve(settings, descriptor_of(models.build("lite")))  # window 5, tile 64
