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
    root = tmp_path_factory.mktemp("clips") / "shipset"  # a fixed name: the conditions are named after it
    frames = photo_sequence(sources.read_photo("camera")[100:400, 100:400], CameraMotion(pan=(0.6, 0.3)), 5,
                            (64, 64), 1.5)  # fmt: skip
    (root / "pan").mkdir(parents=True)
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


def clip(name: str, ours: list[float], single: float) -> dict:
    """One clip's results: our per-frame PSNR-Y, bicubic 30 dB on every frame, window 1 `single`."""
    return {"name": name, "metrics": {"lite": {"psnr_y": sum(ours) / len(ours), "psnr_y_per_frame": ours},
                                      "bicubic": {"psnr_y_per_frame": [30.0] * len(ours)},
                                      "lite, window 1": {"psnr_y": single}}}  # fmt: skip


def tables(x2: float, x4: float, lpips: float = 0.1, clips=None, tlp_1: float = 0.012, clean_x2=None) -> dict[str, dict]:
    """Evaluation results by condition: bicubic 30 dB, lanczos 30.5 dB, today's lite 32.5 dB;
    ours as given on every condition of the unseen set (`clean_x2` for x2 without compression)."""
    baselines = {"bicubic": means(30.0, 0.3, 1.0, 0.02), "lanczos": means(30.5, 0.28, 0.9, 0.018),
                 "shipped lite": means(32.5, 0.12, 0.6, 0.011)}  # fmt: skip
    clips = clips if clips is not None else [clip("a", [33.0, 33.2, 33.2, 33.0], 32.7), clip("b", [33.0] * 4, 32.8)]
    found = {}
    for compression in ("none", "h264"):
        for scale, psnr in ((2, clean_x2 if compression == "none" and clean_x2 else x2), (4, x4)):
            found[ship.condition_key("unseen", scale, compression)] = {
                "mean": baselines | {"lite": means(psnr, lpips, 0.5, 0.01), "lite, window 1": means(32.0, 0.1, 0.5, tlp_1)},
                "clips": clips,
            }  # fmt: skip
    return found


def failed(found) -> list[str]:
    return [b.what for b in found if not b.passed]


def test_bars_pass_only_when_every_one_is_met():
    clean = ship.PROFILES["clean"]
    assert failed(ship.check_bars(tables(33.3, 31.9), "unseen", "lite", clean, "shipped lite")) == []
    assert failed(ship.check_bars(tables(33.1, 31.9, lpips=0.29), "unseen", "lite", clean, "shipped lite")) == [
        "unseen-x2-none: PSNR-Y at least 3.2 dB over bicubic", "unseen-x2-none: lpips below bicubic's and lanczos'",
        "unseen-x4-none: lpips below bicubic's and lanczos'"]  # fmt: skip
    # The window: +0.3 dB on average and no clip worse than window 1 by more than 0.2 dB ...
    uneven = [clip("a", [34.0] * 4, 32.0), clip("b", [33.0] * 4, 33.3)]  # +2.0 and -0.3
    assert failed(ship.check_bars(tables(33.3, 31.9, clips=uneven), "unseen", "lite", clean, None)) == [
        "window beats window 1 by 0.3 dB on average, no clip worse by more than 0.2 dB"]
    # ... and less flicker than window 1.
    assert "window: tLP below window 1's" in failed(ship.check_bars(tables(33.3, 31.9, tlp_1=0.009), "unseen", "lite",
                                                                    clean, None))  # fmt: skip
    # Shot edges: the first and last frames gain 1 dB less than those inside.
    edgy = [clip("a", [32.5, 33.5, 33.5, 32.5], 32.6)]
    assert failed(ship.check_bars(tables(33.3, 31.9, clips=edgy), "unseen", "lite", clean, None)) == [
        "shot edges: first and last frames gain within 0.2 dB of the frames inside"]


def test_the_real_profile_is_measured_on_compressed_input_and_beats_todays_lpips():
    real = ship.PROFILES["real"]
    found = ship.check_bars(tables(31.3, 30.9, clean_x2=32.6), "unseen", "lite", real, "shipped lite")
    assert failed(found) == []
    assert {b.what.split(":")[0] for b in found if b.what.startswith("unseen-")} == {
        "unseen-x2-h264", "unseen-x4-h264", "unseen-x2-none"}  # the clean condition: the +2.5 dB bar only
    assert failed(ship.check_bars(tables(31.3, 30.9, lpips=0.13, clean_x2=32.6), "unseen", "lite", real,
                                  "shipped lite")) == [
        "unseen-x2-h264: lpips below shipped lite's", "unseen-x4-h264: lpips below shipped lite's"]  # fmt: skip
    assert failed(ship.check_bars(tables(31.3, 30.9), "unseen", "lite", real, "shipped lite")) == [
        "unseen-x2-none: PSNR-Y at least 2.5 dB over bicubic"]


def test_a_failed_bar_ships_nothing(clips, run, tmp_path):
    model = fixture_weights(tmp_path / "model.safetensors", window=5)
    out, reference = tmp_path / "weights", tmp_path / "reference"
    out.mkdir()
    found = ship.ship(model, "lite", run, tmp_path / "report", previous=None, sets=(str(clips),), out_dir=out,
                      reference_dir=reference)  # fmt: skip
    assert not all(b.passed for b in found)  # an untrained generator
    assert list(out.iterdir()) == [] and not reference.exists()
    assert (tmp_path / "report" / "shipset-x4-mpeg2" / "index.html").is_file()  # the reports are written regardless


def test_below_bars_ships_and_says_which_bars_it_misses(clips, run, tmp_path, monkeypatch):
    found = [ship.Bar("x2 gain", "+1.00 dB", False), ship.Bar("tLP", "ok", True)]
    monkeypatch.setattr(ship, "check_bars", lambda *a: found)
    model = fixture_weights(tmp_path / "model.safetensors", window=5)
    out, reference = tmp_path / "weights", tmp_path / "reference"
    out.mkdir()
    ship.ship(model, "lite", run, tmp_path / "report", previous=None, sets=(str(clips),), out_dir=out,
              reference_dir=reference, below_bars=True)  # fmt: skip
    assert weights.load(out / "lite.safetensors").descriptor.metrics["bars_missed"] == ["x2 gain"]
    card = (out / "lite.md").read_text().splitlines()
    assert card[1] == "**Ships below 1 of its 2 bars** (`ship --below-bars`): x2 gain (+1.00 dB). See Bars."
    assert (reference / "lite.safetensors").is_file()


def test_passing_bars_ship_fp16_weights_card_and_reference(clips, run, tmp_path, monkeypatch):
    # The bars themselves are tested above; here every bar passes, to check what is written.
    monkeypatch.setattr(ship, "check_bars", lambda *a: [ship.Bar("everything", "fine", True)])
    model = fixture_weights(tmp_path / "model.safetensors", window=5)
    today = fixture_weights(tmp_path / "today.safetensors", window=5)
    older = fixture_weights(tmp_path / "older.safetensors", window=5)
    out, reference = tmp_path / "weights", tmp_path / "reference"
    out.mkdir()
    ship.ship(model, "lite", run, tmp_path / "report", previous=today, also=(older,), sets=(str(clips),), out_dir=out,
              reference_dir=reference)  # fmt: skip

    shipped = weights.load(out / "lite.safetensors")
    assert all(t.dtype == torch.float16 for t in load_file(out / "lite.safetensors").values() if t.is_floating_point())
    d = shipped.descriptor
    assert d.trained and d.steps == 50 and d.window == 5
    keys = {f"shipset-x{s}-{c}" for s in (2, 4) for c in ("none", "h264", "mpeg2")}
    assert set(d.metrics) == keys | {"how", "bars_missed"} and d.metrics["bars_missed"] == []
    beside = {"bicubic", "lanczos", "lite", "previous today", "previous older"}
    assert set(d.metrics["shipset-x2-none"]) == beside | {"lite, window 1"}
    assert set(d.metrics["shipset-x4-h264"]) == beside

    card = (out / "lite.md").read_text()
    for part in ("## Evaluation", "### shipset-x4-mpeg2", "## What the window adds", "## Shot edges", "| pan |",
                 "PSNR-Y by position", "| pan | 0.",  # the fixture pans well under one LR pixel per frame
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
