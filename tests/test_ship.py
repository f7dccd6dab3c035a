"""python -m training ship: the bars, what ships when they pass, nothing when one fails."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from training import ship
from training.__main__ import main
from training.data import sources
from training.data.motion import CameraMotion, photo_sequence
from vsvsr import models, weights


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    """One 5-frame 64x64 clip of a photo filmed by a panning camera, as an evaluation folder."""
    root = tmp_path_factory.mktemp("clips")
    frames = photo_sequence(sources.read_photo("camera")[100:400, 100:400], CameraMotion(pan=(0.6, 0.3)), 5,
                            (64, 64), 1.5)  # fmt: skip
    (root / "pan").mkdir()
    for t, frame in enumerate(frames):
        Image.fromarray(frame).save(root / "pan" / f"{t:04d}.png")
    return root


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A training run's folder as the trainer leaves it: config and logs (50 steps logged every
    25, 2 s each; one 30 s validation)."""
    folder = tmp_path_factory.mktemp("run")
    (folder / "config.yaml").write_text("output_dir: out/train/x\ngenerator: {arch: lite}\n")
    (folder / "train.csv").write_text("step,phase,seconds\n25,pixel,2.0\n50,pixel,2.0\n")
    (folder / "validation.csv").write_text("step,phase,seconds\n50,pixel,30.0\n")
    return folder


def fixture_weights(path: Path, window: int) -> Path:
    """A lite generator whose descriptor says trained (fixture data: it never ships)."""
    torch.manual_seed(window)
    manifest = [{"source": "skimage/data/camera.png", "sha256": "ab" * 32, "frames": None}]
    return weights.save(models.build("lite"), path, trained=True, steps=50, window=window, train_data=manifest)


def means(psnr: float, lpips: float, tof: float, tlp: float) -> dict[str, float]:
    return {"psnr_y": psnr, "lpips": lpips, "tof": tof, "tlp": tlp}


def tables(x2: float, x4: float, lpips: float = 0.1) -> dict[str, dict]:
    """Evaluation means: bicubic 30 dB, lanczos 30.5 dB; ours as given."""
    baselines = {"bicubic": means(30.0, 0.3, 1.0, 0.02), "lanczos": means(30.5, 0.28, 0.9, 0.018)}
    return {f"x{s}-bicubic": {"mean": baselines | {"lite": means(p, lpips, 0.5, 0.01)}} for s, p in ((2, x2), (4, x4))}


def test_bars_pass_only_when_every_one_is_met():
    window_1 = means(32.0, 0.1, 0.5, 0.01)
    assert all(b.passed for b in ship.check_bars(tables(33.1, 31.3), window_1, "lite", ship.Bars()))
    failed = [b.what for b in ship.check_bars(tables(32.9, 31.3, lpips=0.29), window_1, "lite", ship.Bars()) if not b.passed]
    assert failed == ["x2: PSNR-Y at least 3.0 dB over bicubic", "x2: lpips below bicubic's and lanczos'",
                      "x4: lpips below bicubic's and lanczos'"]  # fmt: skip
    # The window: 0.3 dB over window 1, or tOF and tLP both 10% lower.
    assert not ship.check_bars(tables(33.1, 31.3), means(32.9, 0.1, 0.5, 0.01), "lite", ship.Bars())[-1].passed
    assert ship.check_bars(tables(33.1, 31.3), means(33.0, 0.1, 0.6, 0.012), "lite", ship.Bars())[-1].passed
    assert not ship.check_bars(tables(33.1, 31.3), None, "lite", ship.Bars())[-1].passed  # not measured


def test_a_failed_bar_ships_nothing(clips, run, tmp_path):
    model = fixture_weights(tmp_path / "model.safetensors", window=5)
    out, reference = tmp_path / "weights", tmp_path / "reference"
    out.mkdir()
    found = ship.ship(model, "lite", run, None, tmp_path / "report", out_dir=out, reference_dir=reference, data=str(clips))
    assert not all(b.passed for b in found)  # an untrained generator, and no window-1 comparison
    assert list(out.iterdir()) == [] and not reference.exists()
    assert (tmp_path / "report" / "x4-bilinear" / "index.html").is_file()  # the reports are written regardless


def test_passing_bars_ship_fp16_weights_card_and_reference(clips, run, tmp_path, monkeypatch):
    # The bars themselves are tested above; here every bar passes, to check what is written.
    monkeypatch.setattr(ship, "check_bars", lambda *a: [ship.Bar("everything", "fine", True)])
    model = fixture_weights(tmp_path / "model.safetensors", window=5)
    compare = fixture_weights(tmp_path / "window1.safetensors", window=1)
    out, reference = tmp_path / "weights", tmp_path / "reference"
    out.mkdir()
    ship.ship(model, "lite", run, compare, tmp_path / "report", out_dir=out, reference_dir=reference, data=str(clips))

    shipped = weights.load(out / "lite.safetensors")
    assert all(t.dtype == torch.float16 for t in load_file(out / "lite.safetensors").values() if t.is_floating_point())
    d = shipped.descriptor
    assert d.trained and d.steps == 50 and d.window == 5
    assert set(d.metrics) == {"x2-bicubic", "x4-bicubic", "x2-bilinear", "x4-bilinear", "how"}
    assert set(d.metrics["x2-bicubic"]) == {"bicubic", "lanczos", "lite"}

    card = (out / "lite.md").read_text()
    for part in ("## Evaluation", "### x4-bilinear", "## What the window adds", "| window 1 |", "PSNR-Y by position", "| pan |",
                 "Clip by clip", "| pan | 0.",  # the fixture pans well under one LR pixel per frame
                 "## Bars", "`skimage/data/camera.png`", "generator: {arch: lite}", "Trained 50 steps"):  # fmt: skip
        assert part in card

    picture = np.asarray(Image.open(out / "lite.png"))
    assert picture.shape[1] == 4 * picture.shape[0]  # four square crops: bicubic, lanczos, lite, ground truth

    pinned = load_file(reference / "lite.safetensors")
    assert pinned["input"].shape == (5, 3, 40, 48) and pinned["output"].shape == (5, 3, 80, 96)
    assert torch.allclose(ship.reference_output(shipped), pinned["output"], atol=1e-5)


def test_ship_command_mistakes_are_one_line(run, tmp_path, capsys):
    untrained = weights.save(models.build("lite"), tmp_path / "fresh.safetensors")
    assert main(["ship", "--weights", str(untrained), "--name", "lite", "--run", str(run)]) == 2
    assert "is not trained" in capsys.readouterr().err
    assert main(["ship", "--weights", str(tmp_path / "missing.safetensors"), "--name", "lite", "--run", str(run)]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_wall_time_counts_every_step_from_the_sampled_logs(run):
    assert ship.wall_hours(run, 50) == pytest.approx((50 * 2.0 + 30.0) / 3600)


def test_wall_time_stops_at_the_shipped_step(run):
    # A model from the end of the pixel phase is not charged for the phase that followed it.
    assert ship.wall_hours(run, 25) == pytest.approx(25 * 2.0 / 3600)


def test_reference_input_is_real_8_bit_content():
    frames = ship.reference_input()
    assert frames.shape == (5, 3, 40, 48)
    levels = frames * 255
    assert torch.equal(levels, levels.round()) and frames.std() > 0.05
    assert not np.allclose(frames[0].numpy(), frames[-1].numpy())  # the camera pans
