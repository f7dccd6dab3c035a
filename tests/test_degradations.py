"""Every degradation's contract: shape and [0, 1] range kept, reproducible under a seed, one
parameter draw per window (identical frames stay identical, except for per-frame noise), and
the image actually changes."""

import numpy as np
import pytest
import torch
from skimage import data

from training.data import degradations as d

ALL = [name for name, _ in d.Degradations().each()]


def window(frames: int = 3, identical: bool = False) -> torch.Tensor:
    """(T, 3, 48, 56) crops of a real photo (flat sky and textured suit), moving unless
    `identical`."""
    photo = torch.from_numpy(data.astronaut()).permute(2, 0, 1).float() / 255
    return torch.stack([photo[:, 100 : 148, 180 + (0 if identical else 2 * t) : 236 + (0 if identical else 2 * t)]
                        for t in range(frames)])  # fmt: skip


def only(name: str, **settings) -> d.Degradations:
    """A pipeline with degradation `name` always applied."""
    kind = type(getattr(d.Degradations(), name))
    return d.Degradations(**{name: kind(p=1.0, **settings)})


@pytest.mark.parametrize("name", ALL)
def test_keeps_shape_and_range_and_changes_the_image(name):
    x = window()
    y = only(name)(x, np.random.default_rng(0))
    assert y.shape == x.shape and y.dtype == torch.float32
    assert 0 <= y.min() and y.max() <= 1
    assert (y - x).abs().mean() > 1e-3


@pytest.mark.parametrize("name", ALL)
def test_odd_sizes(name):
    x = window()[..., :47, :53]
    assert only(name)(x, np.random.default_rng(0)).shape == x.shape


@pytest.mark.parametrize("name", ALL)
def test_reproducible_under_a_seed(name):
    x = window()
    a, b = only(name)(x, np.random.default_rng(7)), only(name)(x, np.random.default_rng(7))
    assert torch.equal(a, b)
    assert not torch.equal(a, only(name)(x, np.random.default_rng(8)))


@pytest.mark.parametrize("name", [n for n in ALL if n != "codec"])  # the codec: test_codec_predicts_across_frames
def test_one_draw_per_window(name):
    y = only(name)(window(identical=True), np.random.default_rng(3))
    same = all(torch.equal(y[0], frame) for frame in y[1:])
    # Sensor noise is independent per frame; every other degradation is one event per window.
    assert same == (name != "noise")


def test_input_is_not_modified():
    x = window()
    before = x.clone()
    for name in ALL:
        only(name)(x, np.random.default_rng(0))
    assert torch.equal(x, before)


def test_probabilities():
    x = window()
    assert torch.equal(d.Degradations()(x, np.random.default_rng(0)), x)  # every p = 0
    half = d.Degradations(blur=d.GaussianBlur(p=0.5))
    applied = [not torch.equal(half(x, np.random.default_rng(s)), x) for s in range(40)]
    assert 10 < sum(applied) < 30


def test_degradations_draw_independently():
    """Changing one degradation's settings never changes another's draws."""
    noise_only = d.Degradations(noise=d.GaussianNoise(p=1.0))
    with_contrast = d.Degradations(contrast=d.ContrastBrightness(p=1.0, brightness=(0, 0), contrast=(1, 1)),
                                   noise=d.GaussianNoise(p=1.0))  # fmt: skip
    x = window()
    a, b = noise_only(x, np.random.default_rng(5)), with_contrast(x, np.random.default_rng(5))
    assert torch.allclose(a, b, atol=1e-6)


def test_content_aware_keeps_detail_and_blurs_flat_regions():
    x = window(identical=True)
    y = only("content_aware", sigma=(2.5, 2.5))(x, np.random.default_rng(0))
    uniform = d._blur(x, 2.5)
    change, uniform_change = (y - x).abs().mean(dim=(0, 1)), (uniform - x).abs().mean(dim=(0, 1))  # (H, W)
    saliency = d.kornia.filters.sobel(d.luma(x)).mean(dim=(0, 1))
    busy, flat = saliency > saliency.quantile(0.9), saliency < saliency.quantile(0.3)
    # Where the picture has edges it changes much less than a uniform blur would change it;
    # where it is flat it gets (nearly) that blur.
    assert change[busy].mean() < 0.3 * uniform_change[busy].mean()
    assert change[flat].mean() > 0.6 * uniform_change[flat].mean()


def test_stage_must_be_known():
    with pytest.raises(ValueError, match="stage"):
        d.Degradations(stage="middle")


def test_codec_predicts_across_frames():
    """A video codec codes frames from each other (JPEG codes each alone): changing the first
    frame of a window changes the decoded later ones."""
    x = window(frames=5)
    changed = x.clone()
    changed[0, :, 10:30, 10:30] = 1 - changed[0, :, 10:30, 10:30]
    for degradation in (only("codec", codecs=("libx264",), crf=(30, 30)), only("codec", codecs=("mpeg2video",))):
        a, b = degradation(x, np.random.default_rng(1)), degradation(changed, np.random.default_rng(1))
        assert not torch.equal(a[2:], b[2:])
    jpeg = only("jpeg")
    assert torch.equal(jpeg(x, np.random.default_rng(1))[2:], jpeg(changed, np.random.default_rng(1))[2:])


@pytest.mark.parametrize("codec", d.codec.CODECS)
def test_codec_quality_follows_its_setting(codec):
    """Every codec runs, and a lower quality setting loses more of the picture."""
    x = window(frames=5)
    if codec in d.codec.RATE_CONTROLLED:
        good, bad = (only("codec", codecs=(codec,), bits_per_pixel=(b, b)) for b in (2.0, 0.1))
    else:
        good, bad = (only("codec", codecs=(codec,), crf=(c, c)) for c in (12, 40))
    error = [(g(x, np.random.default_rng(0)) - x).abs().mean() for g in (good, bad)]
    assert error[0] < error[1]


def test_codec_settings_are_checked():
    with pytest.raises(ValueError, match="codecs"):
        d.VideoCodec(codecs=("h266",))
    with pytest.raises(ValueError, match="pix_fmts"):
        d.VideoCodec(pix_fmts=("nv12",))
