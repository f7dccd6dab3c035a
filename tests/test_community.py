"""Community models through spandrel: tiny ESRGAN, Real-ESRGAN Compact and SwinIR state dicts
built here, read without unpickling code, run by our engine (tiles, passes, precision, the
frame server), through core.vsr.SRGAN and through vsvsr upscale, against spandrel's own forward."""

import random

import pytest
import safetensors.torch
import spandrel
import torch
import vapoursynth as vs
from pipeline_media import make_input, streams
from spandrel.architectures.Compact import Compact
from spandrel.architectures.ESRGAN import ESRGAN
from spandrel.architectures.SwinIR import SwinIR
from test_vsfilter import moving_clip

from vsvsr import community, networks
from vsvsr.cli import main
from vsvsr.engine import Engine, Settings, TileGrid
from vsvsr.vapoursynth_plugin import SRGAN as srgan
from vsvsr.vsfilter import frame_to_tensor
from vsvsr.weights import WeightsError


def lifted(state_dict: dict, key: str) -> dict:
    """A fresh network's output sits near 0 and half of it clamps away: raise the last bias so
    the comparisons below see mid-range values."""
    state_dict[key] = state_dict[key] + 0.4
    return state_dict


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("community")
    torch.manual_seed(0)
    esrgan = lifted(ESRGAN(num_filters=8, num_blocks=1, scale=4).state_dict(), "model.10.bias")
    torch.save(esrgan, folder / "4x-tiny-esrgan.pth")
    compact = lifted(Compact(num_feat=8, num_conv=2, upscale=2).state_dict(), "body.6.bias")
    torch.save({"params": compact}, folder / "2x-tiny-compact.pth")  # Real-ESRGAN's layout: wrapped
    swinir = SwinIR(upscale=2, img_size=16, embed_dim=12, depths=[2], num_heads=[2], window_size=4, mlp_ratio=2,
                    upsampler="pixelshuffle").state_dict()  # fmt: skip
    safetensors.torch.save_file({k: v.contiguous() for k, v in swinir.items()}, folder / "2x-tiny-swinir.safetensors")
    return {"esrgan": folder / "4x-tiny-esrgan.pth", "compact": folder / "2x-tiny-compact.pth",
            "swinir": folder / "2x-tiny-swinir.safetensors"}  # fmt: skip


def spandrel_forward(path, frame: torch.Tensor, passes: int = 1) -> torch.Tensor:
    """spandrel's own loader and call on one (3, h, w) frame."""
    model = spandrel.ModelLoader().load_from_file(path).eval()
    out = frame[None]
    for _ in range(passes):
        out = model(out)
    return out[0]


def frames(length: int = 4, h: int = 20, w: int = 28, seed: int = 0) -> torch.Tensor:
    return torch.rand(length, 3, h, w, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name, arch, scale, minimum, precisions, tiling", [
    ("esrgan", "ESRGAN", 4, 2, ("fp32", "fp16", "bf16"), "supported"),
    ("compact", "Compact", 2, 0, ("fp32", "fp16", "bf16"), "supported"),
    ("swinir", "SwinIR", 2, 16, ("fp32", "bf16"), "discouraged"),  # spandrel: wrong in fp16, tiles badly
])  # fmt: skip
def test_descriptor_comes_from_the_file(files, name, arch, scale, minimum, precisions, tiling):
    d = networks.load(files[name]).descriptor
    assert (d.arch_id, d.scale, d.window, d.temporal, d.min_size, d.precisions, d.tiling) == (
        arch, scale, 1, False, minimum, precisions, tiling)  # fmt: skip
    assert d.inference_tile == community.WHOLE_FRAME_TILE
    assert (d.input_channels, d.output_channels) == (3, 3) and d.parameters > 1000


@pytest.mark.parametrize("name", ["esrgan", "compact", "swinir"])
def test_untiled_engine_is_spandrel_forward_in_any_order(files, name):
    clip = frames()
    server = Engine(networks.load(files[name]), Settings(device="cpu", precision="fp32")).clip(len(clip))
    order = list(range(len(clip)))
    random.Random(2).shuffle(order)
    for n in order:
        expected = spandrel_forward(files[name], clip[n])
        assert 0.05 < expected.mean() < 0.95
        assert torch.equal(server.frame(n, clip.__getitem__), expected), n


@pytest.mark.parametrize("name, tile", [("esrgan", 12), ("compact", 8), ("swinir", 12)])
def test_tiled_engine_blends_spandrel_tiles(files, name, tile):
    frame = frames(1)[0]
    model = networks.load(files[name])
    overlap = 2
    out = Engine(model, Settings(device="cpu", precision="fp32", tile=tile, overlap=overlap)).upscale_window(frame[None])[0]
    s = model.descriptor.scale
    grid = TileGrid(frame.shape[1], frame.shape[2], tile, overlap, s)
    assert len(grid.tiles) > 2
    by_hand = grid.merge([spandrel_forward(files[name], grid.crop(frame, t)) for t in grid.tiles]).clamp(0, 1)
    assert out.shape == (3, 20 * s, 28 * s)
    assert torch.allclose(out, by_hand, atol=1e-5)  # batching tiles changes kernels, not results
    untiled = spandrel_forward(files[name], frame)
    assert (out - untiled).abs().mean() < 0.05 and not torch.equal(out, untiled)


def test_an_x2_model_runs_twice_for_scale_4(files):
    clip = frames(2, 12, 16)
    out = Engine(networks.load(files["compact"]), Settings(scale=4, device="cpu", precision="fp32")).upscale_clip(clip)
    assert torch.equal(out[1], spandrel_forward(files["compact"], clip[1], passes=2))
    assert out.shape == (2, 3, 48, 64)


def test_low_precision_stays_close(files):
    clip = frames(1)
    model = networks.load(files["esrgan"])
    ref = Engine(model, Settings(device="cpu", precision="fp32")).upscale_window(clip)
    low = Engine(model, Settings(device="cpu", precision="bf16")).upscale_window(clip)
    assert low.dtype == torch.float32 and 0 < (low - ref).abs().max() < 0.05
    assert next(model.parameters()).dtype == torch.float32  # the caller's model is untouched


@pytest.mark.parametrize("name, settings, message", [
    ("compact", Settings(scale=3), r"^scale must be 2 or 4, not 3: the model is x2; 4 runs it twice"),
    ("esrgan", Settings(scale=2), r"^scale must be 4 or 16, not 2: the model is x4"),
    ("compact", Settings(window=5), r"^window must be 1 for a single-image model .*; leave window out"),
    ("swinir", Settings(precision="fp16"), r"^precision fp16 is not supported by this model .*; use fp32 or bf16"),
])  # fmt: skip
def test_settings_the_model_cannot_take_name_the_fix(files, name, settings, message):
    with pytest.raises(ValueError, match=message):
        Engine(networks.load(files[name]), settings)


def test_a_pickled_payload_is_refused_without_running(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))  # unpickling it would create the marker

    path = tmp_path / "4x-evil.pth"
    torch.save({"body.0.weight": torch.zeros(8, 3, 3, 3), "extra": Payload()}, path)
    with pytest.raises(WeightsError, match=r"holds pickled objects besides tensors \(it names _io.open\), and vsvsr "
                                           "never runs code from a model file"):  # fmt: skip
        networks.load(path)
    assert not marker.exists()


def test_torchscript_and_foreign_files_are_refused(tmp_path):
    scripted = tmp_path / "model.pt"
    torch.jit.script(torch.nn.Conv2d(3, 3, 3)).save(str(scripted))
    with pytest.raises(WeightsError, match="is a TorchScript archive, which runs code of its own"):
        networks.load(scripted)
    unknown = tmp_path / "unknown.pth"
    torch.save({"encoder.weight": torch.zeros(3, 3)}, unknown)
    with pytest.raises(WeightsError, match=r"spandrel 0\.4\.\d+ does not recognise this model's architecture"):
        networks.load(unknown)
    grey = tmp_path / "1x-grey.pth"
    torch.save(Compact(num_in_ch=1, num_out_ch=1, num_feat=8, num_conv=2, upscale=1).state_dict(), grey)
    with pytest.raises(WeightsError, match=r"takes 1 channel\(s\) and gives 1; vsvsr runs RGB models"):
        networks.load(grey)
    with pytest.raises(WeightsError, match="weights file .*missing.pth does not exist"):
        networks.load(tmp_path / "missing.pth")


def test_vapoursynth_filter_runs_community_models(files):
    rgbs = moving_clip(vs.RGBS, length=5, w=24, h=16)
    out = srgan(rgbs, weights=str(files["esrgan"]), precision="fp32")  # scale: the model's, 4
    assert (out.width, out.height, out.num_frames, out.format.id) == (96, 64, 5, vs.RGBS)
    for n in (3, 0, 4):
        assert torch.equal(frame_to_tensor(out.get_frame(n)), spandrel_forward(files["esrgan"], frame_to_tensor(rgbs.get_frame(n))))
    tagged = moving_clip(vs.YUV420P10, length=5, w=24, h=16).std.SetFrameProps(_Transfer=1, _SARNum=4, _SARDen=3)
    yuv = srgan(tagged, weights=str(files["compact"]), scale=4, precision="fp32")
    assert (yuv.width, yuv.height, yuv.format.id) == (96, 64, vs.YUV420P10)
    props = yuv.get_frame(2).props
    assert (props["_Transfer"], props["_SARNum"], props["_SARDen"]) == (1, 4, 3)
    with pytest.raises(vs.Error, match=r"^vsr\.SRGAN: scale must be 4 or 16, not 2: the model is x4"):
        srgan(rgbs, weights=str(files["esrgan"]), scale=2)


def test_cli_upscales_with_a_community_model_and_inspects_it(files, tmp_path, capsys):
    source = make_input(tmp_path / "in.mkv", seconds=0.3, audio=False, subtitles=False)
    output = tmp_path / "out.mkv"
    assert main(["upscale", str(source), str(output), "--weights", str(files["compact"]), "--quiet"]) == 0
    video = [s for s in streams(output) if s["codec_type"] == "video"][0]
    assert (video["width"], video["height"]) == (128, 96)
    capsys.readouterr()
    assert main(["models", "--inspect", str(files["swinir"])]) == 0
    out = capsys.readouterr().out
    assert "community model, spandrel architecture SwinIR" in out and "scale x2 per pass (scale 2 or 4)" in out
    assert "any size, at least 16" in out and "precisions fp32, bf16" in out and "tiling discouraged (by spandrel)" in out
    assert main(["models", "--inspect", "lite"]) == 0
    assert "vsvsr weights, arch lite" in capsys.readouterr().out
