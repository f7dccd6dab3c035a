import pytest
import torch
from torch.nn.utils.parametrize import is_parametrized

import vsvsr.models as models
from vsvsr.models.generator import fold
from conftest import perturb_nonlocal


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_names():
    assert models.names() == ["rrdb", "residual", "lite"]


@pytest.mark.parametrize("name, target", [("rrdb", 27e6), ("residual", 5e6)])
def test_paper_models_parameter_counts(name, target):
    assert abs(n_params(models.build(name)) - target) <= 0.1 * target


def test_lite_parameter_budget():
    assert n_params(models.build("lite")) <= 0.5e6


def test_rrdb_blocks_are_dense_with_concatenation():
    rrdb = models.build("rrdb").trunk[0]
    assert len(rrdb.blocks) == 3
    widths = [conv.in_channels for conv in rrdb.blocks[0].convs]
    assert widths == [64, 96, 128, 160, 192]  # each conv sees the input and every earlier output


@pytest.mark.parametrize("name", ["rrdb", "residual", "lite"])
@pytest.mark.parametrize("t", [1, 3, 5])
def test_shapes_any_window_and_odd_sizes(name, t):
    torch.manual_seed(0)
    model = models.build(name).eval()
    x = torch.rand(2, t, 3, 7, 9)
    with torch.no_grad():
        y = model(x)
    assert y.shape == (2, t, 3, 14, 18)
    assert y.dtype == torch.float32


def test_fresh_generator_starts_near_bicubic():
    """The global skip adds the bicubic interpolation; the fresh body adds only a small residual."""
    torch.manual_seed(0)
    x = torch.rand(1, 3, 3, 16, 16)
    bicubic = torch.nn.functional.interpolate(x[0], scale_factor=2, mode="bicubic", align_corners=False)
    with torch.no_grad():
        y = models.build("lite")(x)[0]
    assert (y - bicubic).abs().mean() < 0.1


def test_distant_frames_meet_only_in_the_non_local_block(lite):
    """Frame 4 reaches frame 0 through the non-local block, not through lite's 3D convolutions
    (which reach three frames): a fresh model, whose block is the identity, keeps frame 0
    unchanged."""
    x = torch.rand(1, 5, 3, 12, 12)
    y = x.clone()
    y[:, 4] = torch.rand(3, 12, 12)
    fresh = models.build("lite").eval()
    with torch.no_grad():
        assert not torch.equal(lite(x)[:, 0], lite(y)[:, 0])
        assert torch.equal(fresh(x)[:, 0], fresh(y)[:, 0])
        assert not torch.equal(fresh(x)[:, 1], fresh(y)[:, 1])  # the 3D convolutions' reach


def test_temporal_blocks_reach_one_more_frame_each():
    """A 3D residual block sees one frame either side: with one block, frame 1's output depends
    on frame 3 (expand 1 + block 1) even in a fresh model; without, it does not."""
    x = torch.rand(1, 5, 3, 12, 12)
    y = x.clone()
    y[:, 3] = torch.rand(3, 12, 12)
    with torch.no_grad():
        for blocks, reaches in ((0, False), (1, True)):
            model = models.build("lite", front_feat=0, temporal_kernel=3, temporal_blocks=blocks).eval()
            assert len(model.temporal_trunk) == blocks
            assert (not torch.equal(model(x)[:, 1], model(y)[:, 1])) == reaches
            assert torch.equal(model(x)[:, 0], model(y)[:, 0])  # 3 frames away: beyond the reach


def test_front_compares_frames_at_full_resolution():
    """The front's two 3D convolutions take RGB frames before the fold (their features are what
    gets folded) and reach two frames either side, even in a fresh model."""
    torch.manual_seed(0)
    x = torch.rand(1, 5, 3, 16, 16)
    y = x.clone()
    y[0, 2, :, 8, 8] += 0.5
    with torch.no_grad():
        front_only = models.build("lite", temporal_kernel=1, temporal_blocks=0).eval()
        none = models.build("lite", front_feat=0, temporal_kernel=1, temporal_blocks=0).eval()
        assert front_only.front[0].in_channels == 3 and front_only.expand.in_channels == 16 * 2 * 2
        assert not torch.equal(front_only(x)[:, 0], front_only(y)[:, 0])
        assert not torch.equal(front_only(x)[:, 4], front_only(y)[:, 4])
        assert torch.equal(none(x)[:, 0], none(y)[:, 0])  # no temporal path in a fresh model


def test_temporal_block_holds_the_edge_frames():
    """A still window stays still through a 3D block: its edge frames see themselves repeated,
    not black frames, so every frame of the output is the same."""
    torch.manual_seed(0)
    block = models.TemporalResidualBlock(8, res_scale=1.0).eval()
    still = torch.rand(1, 8, 1, 6, 7).expand(-1, -1, 5, -1, -1)
    with torch.no_grad():
        out = block(still)
    assert not torch.equal(out, still)
    assert all(torch.equal(out[:, :, i], out[:, :, 0]) for i in range(5))
    with pytest.raises(ValueError, match="temporal_blocks and front_feat must not be negative"):
        models.build("lite", temporal_blocks=-1)


@pytest.mark.parametrize("blocks", [0, 1, 2])
def test_produced_frames_are_the_whole_windows_frames_for_less_work(blocks):
    """Asking for some frames of a window gives exactly those frames of the whole window's
    output (edge frames included, where the 3D blocks hold the edges), while the frame-by-frame
    trunk runs on the produced frames only."""
    torch.manual_seed(0)
    model = perturb_nonlocal(models.build("lite", temporal_blocks=blocks)).eval()
    trunk_frames = []
    model.trunk.register_forward_hook(lambda module, args, out: trunk_frames.append(args[0].shape[0]))
    x = torch.rand(2, 5, 3, 14, 15)
    with torch.no_grad():
        whole = model(x)
        for produce in (slice(1, 4), slice(0, 2), slice(4, 5)):
            assert torch.equal(model(x, produce), whole[:, produce])
    assert trunk_frames == [2 * 5, 2 * 3, 2 * 2, 2 * 1]
    with pytest.raises(ValueError, match="produce must select consecutive frames"):
        model(x, slice(0, 5, 2))
    with pytest.raises(ValueError, match="produce must select consecutive frames"):
        model(x, slice(5, 6))


def test_fold_is_pixel_unshuffle_frame_by_frame():
    """The generator folds the (B, C, T, H, W) clip in place of per-frame pixel_unshuffle; trained
    weights expect exactly its channel order."""
    clip = torch.rand(2, 4, 3, 6, 8)
    per_frame = torch.stack([torch.nn.functional.pixel_unshuffle(clip[:, :, i], 2) for i in range(3)], dim=2)
    assert torch.equal(fold(clip, 2), per_frame)
    assert fold(clip, 1) is clip


def test_window_of_one_is_a_single_image_model():
    torch.manual_seed(0)
    model = perturb_nonlocal(models.build("lite")).eval()
    x = torch.rand(3, 1, 3, 10, 11)
    with torch.no_grad():
        together = model(x)
        apart = torch.cat([model(x[i : i + 1]) for i in range(3)])
    assert torch.allclose(together, apart, atol=1e-5)


def test_deterministic(lite):
    x = torch.rand(1, 3, 3, 15, 13)
    with torch.no_grad():
        assert torch.equal(lite(x), lite(x))


def test_x4_is_two_x2_passes(lite):
    x = torch.rand(1, 3, 3, 9, 10)
    with torch.no_grad():
        x4 = models.upscale(lite, x, scale=4)
        twice = models.upscale(lite, models.upscale(lite, x, scale=2), scale=2)
    assert x4.shape == (1, 3, 3, 36, 40)
    assert torch.equal(x4, twice)
    assert x4.min() >= 0 and x4.max() <= 1


def test_upscale_rejects_other_scales(lite):
    with pytest.raises(ValueError, match="scale must be 2 or 4"):
        models.upscale(lite, torch.rand(1, 1, 3, 8, 8), scale=3)


def test_build_overrides_and_errors():
    model = models.build("lite", num_blocks=2, pairwise="embedded_gaussian")
    assert model.arch == "lite" and model.arch_params["num_blocks"] == 2
    assert len(model.trunk) == 2
    with pytest.raises(TypeError, match="unknown generator parameter"):
        models.build("lite", num_layers=3)
    with pytest.raises(KeyError, match="known models: rrdb, residual, lite"):
        models.build("huge")


def test_low_precision_body_keeps_float32_skip(lite):
    x = torch.rand(1, 3, 3, 16, 16)
    with torch.no_grad():
        ref = lite(x)
        low = lite.to(torch.bfloat16)(x)
    assert low.dtype == torch.float32
    assert (low - ref).abs().max() < 0.05


def test_discriminator_gives_a_realness_map_per_pixel():
    torch.manual_seed(0)
    disc = models.UNetDiscriminator(num_feat=16)
    assert any(is_parametrized(m, "weight") for m in disc.modules())  # spectral norm
    frames = torch.rand(2, 3, 3, 21, 34)
    assert disc(frames).shape == (2, 3, 1, 21, 34)
    assert disc(frames[0]).shape == (3, 1, 21, 34)
