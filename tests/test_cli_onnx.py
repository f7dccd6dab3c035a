"""vsvsr export-onnx: the fixed-window graph reproduces the engine's centre mode, through
onnxruntime directly and through vs-mlrt's core.ort.Model in filter_scripts/upscale_ort.vpy.
Near a clip's ends the graph's windows hold the end frames, where the engine's slide inside the
clip: there it reproduces the engine's pass over the held window."""

import runpy
import subprocess
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
import vapoursynth as vs
from pipeline_media import tiny_weights

from vsvsr import weights
from vsvsr.cli import main
from vsvsr.engine import Engine, Settings
from vsvsr.vsfilter import frame_to_tensor

WINDOW = 5
SCRIPT = Path(__file__).resolve().parent.parent / "filter_scripts" / "upscale_ort.vpy"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("onnx")
    model = tiny_weights(folder / "tiny.safetensors")
    path = folder / f"tiny_w{WINDOW}.onnx"
    assert main(["export-onnx", "--weights", model, "--window", str(WINDOW), str(path)]) == 0
    return model, path


def centre_engine(model: str, size: int) -> Engine:
    """The engine in centre mode on one tile (the graph runs whole frames)."""
    return Engine(weights.load(model), Settings(mode="centre", window=WINDOW, tile=size, precision="fp32"))


def centre_frames(engine: Engine, frames: torch.Tensor) -> torch.Tensor:
    """Each frame from the window centred on it, the clip's end frames held beyond its ends: the
    engine's centre mode inside the clip, its pass over the held window near the ends."""
    lead = (WINDOW - 1) // 2
    held = [frames[[min(max(n + d, 0), len(frames) - 1) for d in range(-lead, WINDOW - lead)]] for n in range(len(frames))]
    by_engine = engine.upscale_clip(frames)
    inside = range(lead, len(frames) - (WINDOW - 1 - lead))
    return torch.stack([by_engine[n] if n in inside else engine.upscale_window(held[n])[lead] for n in range(len(frames))])


def test_graph_shape_and_onnxruntime_match_the_engine(exported):
    model, path = exported
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (graph_input,) = session.get_inputs()
    assert graph_input.shape == [1, 3 * WINDOW, "h", "w"]
    torch.manual_seed(0)
    frames = torch.rand(7, 3, 23, 37)  # odd sizes; more frames than a window, so the ends replicate
    upscaled = centre_frames(centre_engine(model, 64), frames)
    lead = (WINDOW - 1) // 2
    for n in range(len(frames)):
        window = frames[[min(max(n + d, 0), len(frames) - 1) for d in range(-lead, WINDOW - lead)]]
        (out,) = session.run(None, {"frames": window.reshape(1, 3 * WINDOW, 23, 37).numpy()})
        assert out.shape == (1, 3, 46, 74)
        assert np.abs(out[0] - upscaled[n].numpy()).max() < 1e-4


def test_upscale_ort_vpy_matches_the_engine(exported, tmp_path):
    model, path = exported
    source = tmp_path / "rgb.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=40x32:r=24:d=0.25", "-pix_fmt",
                    "gbrp16le", "-c:v", "ffv1", str(source)], check=True)  # fmt: skip
    vs.clear_outputs()
    try:
        runpy.run_path(str(SCRIPT), init_globals={"src": str(source), "onnx": str(path), "window": str(WINDOW),
                                                  "format": "RGBS"})  # fmt: skip
        out = vs.get_output(0).clip
    finally:
        vs.clear_outputs()
    rgbs = vs.core.bs.VideoSource(str(source)).resize.Point(format=vs.RGBS)
    upscaled = centre_frames(centre_engine(model, 64), torch.stack([frame_to_tensor(f) for f in rgbs.frames()]))
    assert (out.format.id, out.width, out.height, out.num_frames) == (vs.RGBS, 80, 64, 6)
    for n in range(out.num_frames):
        assert (frame_to_tensor(out.get_frame(n)) - upscaled[n]).abs().max() < 1e-4
