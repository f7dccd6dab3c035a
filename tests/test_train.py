"""`python -m training train` end to end on tiny configs: the smoke run's outputs, overfitting a
tiny set beyond bicubic, an interrupted run resuming onto the same loss trajectory, checkpoints
that survive a crash mid-write, starting from a weights file, and a 2-process torchrun (gloo)."""

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from training import checkpoint
from training.__main__ import main
from training.config import LossConfig, PhaseConfig
from training.data import sources
from training.data.motion import CameraMotion, photo_sequence
from training.scoring import downsample, upscale_baseline
from training.runlog import read_csv
from training.trainer import ema_update, lr_factor
from training.validation import upscale_clip
from vsvsr import metrics, weights

REPO = Path(__file__).resolve().parents[1]
SMOKE = str(REPO / "training" / "configs" / "smoke.yaml")
LOSS_COLUMNS = ("step", "phase", "lr_g", "lr_d", "loss", "charbonnier", "perceptual", "sobel", "ssim", "adversarial",
                "d_loss", "grad_norm_g", "grad_norm_d")  # fmt: skip


def train(*args: str) -> None:
    assert main(["train", "--config", SMOKE, *args]) == 0


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("smoke")
    train("--set", f"output_dir={out}")
    return out


def test_smoke_run_writes_weights_logs_and_checkpoints(smoke):
    for name, steps in (("pixel-best", None), ("gan-best", None), ("final", 10)):
        model = weights.load(smoke / "weights" / f"{name}.safetensors")
        d = model.descriptor
        assert d.trained and d.window == 3 and d.train_tiles == (8, 16) and d.downsample == "bicubic"
        assert steps is None or d.steps == steps
        assert [e["source"] for e in d.train_data] == ["skimage/data/astronaut.png", "skimage/data/chelsea.png"]
        assert {"psnr_y", "ssim_y", "lpips", "tof", "tlp", "psnr_y_bicubic", "phase"} <= set(d.metrics)
    rows = read_csv(smoke / "train.csv")
    assert [int(r["step"]) for r in rows] == list(range(1, 11))
    assert {r["phase"] for r in rows[:6]} == {"pixel"} and {r["phase"] for r in rows[6:]} == {"gan"}
    assert all(r["adversarial"] and r["d_loss"] for r in rows[6:]) and not any(r["d_loss"] for r in rows[:6])
    validated = read_csv(smoke / "validation.csv")
    assert [int(r["step"]) for r in validated] == [5, 6, 10]
    assert all(abs(float(r["window_vs_static"])) < 5 for r in validated)  # dB, real minus static window
    assert weights.load(smoke / "weights" / "pixel-last.safetensors").descriptor.steps == 6  # each phase's end
    assert weights.load(smoke / "weights" / "gan-last.safetensors").descriptor.steps == 10
    assert [p.name for p in checkpoint.checkpoints(smoke / "checkpoints")] == ["step-00000005.pt", "step-00000010.pt"]
    state = checkpoint.load(smoke / "checkpoints" / "step-00000010.pt")
    assert state["config"]["output_dir"] == str(smoke) and state["data_position"] == 20 and state["net_d"] is not None


def test_resumed_run_follows_the_same_loss_trajectory(smoke, tmp_path):
    train("--set", f"output_dir={tmp_path}", "--stop-after", "7")  # stops inside the adversarial phase
    assert [int(r["step"]) for r in read_csv(tmp_path / "train.csv")] == list(range(1, 8))
    train("--set", f"output_dir={tmp_path}", "--resume", "auto")
    whole, resumed = read_csv(smoke / "train.csv"), read_csv(tmp_path / "train.csv")
    assert [{k: r[k] for k in LOSS_COLUMNS} for r in resumed] == [{k: r[k] for k in LOSS_COLUMNS} for r in whole]
    a, b = load_file(smoke / "weights" / "final.safetensors"), load_file(tmp_path / "weights" / "final.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_stop_at_is_an_absolute_step_so_the_same_command_can_be_rerun(tmp_path, capsys):
    for _ in range(2):  # the second run finds the run at its end and trains nothing
        train("--set", f"output_dir={tmp_path}", "--resume", "auto", "--stop-at", "3")
    assert [int(r["step"]) for r in read_csv(tmp_path / "train.csv")] == [1, 2, 3]
    assert [p.name for p in checkpoint.checkpoints(tmp_path / "checkpoints")] == ["step-00000003.pt"]
    capsys.readouterr()
    assert main(["train", "--config", SMOKE, "--stop-at", "0"]) == 2
    assert "--stop-at must be at least 1" in capsys.readouterr().err


def test_resume_auto_skips_a_corrupt_checkpoint(smoke, tmp_path):
    folder = tmp_path / "checkpoints"
    shutil.copytree(smoke / "checkpoints", folder)
    newest = folder / "step-00000010.pt"
    newest.write_bytes(newest.read_bytes()[:1000])  # truncated, as by a full disk
    with pytest.warns(UserWarning, match="skipping corrupt checkpoint.*step-00000010"):
        path, state = checkpoint.newest_valid(folder)
    assert path.name == "step-00000005.pt" and state["step"] == 5
    with pytest.raises(checkpoint.CheckpointError, match="not a readable checkpoint"):
        checkpoint.load(newest)


KILLED_MID_WRITE = textwrap.dedent("""
    import io, os, signal, sys
    from pathlib import Path
    import torch
    from training import checkpoint

    folder = Path(sys.argv[1])
    state = {"config": {}, "net_g": {"w": torch.ones(3)}, "ema": {}, "optim_g": {}, "scaler_g": {}, "rng": {},
             "data_position": 0}
    checkpoint.save({**state, "step": 1}, folder, keep=3)
    real_save = torch.save

    def dying_save(obj, f):  # writes half of the file, then the process dies
        buffer = io.BytesIO()
        real_save(obj, buffer)
        f.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    torch.save = dying_save
    checkpoint.save({**state, "step": 2, "net_g": {"w": torch.zeros(1_000_000)}}, folder, keep=3)
""")


def test_checkpoint_write_killed_midway_leaves_the_previous_one(tmp_path):
    result = subprocess.run([sys.executable, "-c", KILLED_MID_WRITE, str(tmp_path)], cwd=REPO, check=False)
    assert result.returncode == -9
    leftovers = [p.name for p in tmp_path.iterdir()]
    assert "step-00000002.pt" not in leftovers and any(n.endswith(".tmp") for n in leftovers)
    path, state = checkpoint.newest_valid(tmp_path)
    assert path.name == "step-00000001.pt" and torch.equal(state["net_g"]["w"], torch.ones(3))
    checkpoint.save({**state, "step": 3}, tmp_path, keep=3)  # the next write clears the debris
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-00000001.pt", "step-00000003.pt"]


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory) -> Path:
    """One 5-frame 48x48 clip of a training photo filmed by a panning camera, in the REDS layout."""
    root = tmp_path_factory.mktemp("tiny")
    clip = photo_sequence(sources.read_photo("astronaut")[100:300, 150:350], CameraMotion(pan=(0.7, -0.4)), 5,
                          (48, 48), 1.5)  # fmt: skip
    (root / "train_sharp" / "000").mkdir(parents=True)
    for t, frame in enumerate(clip):
        Image.fromarray(frame).save(root / "train_sharp" / "000" / f"{t:08d}.png")
    return root


def test_overfits_a_tiny_set_beyond_bicubic(tiny_set, tmp_path):
    train(
        "--set", f"output_dir={tmp_path}", "--set", f"data.sources=[{{kind: reds, path: {tiny_set}}}]",
        "--set", "data.window=5", "--set", "data.hr_crop=48", "--set", "data.augment=false",
        "--set", "data.degradations={}", "--set", "cascade.x2=[12,24]", "--set", "cascade.x4=[]",
        "--set", "phases=[{name: pixel, steps: 150, lr_g: 2.0e-3, schedule: constant, losses: {charbonnier: 1.0}}]",
        "--set", f"validation.data={tiny_set / 'train_sharp'}", "--set", "validation.every=150",
        "--set", "validation.frames=5", "--set", "validation.crop=48", "--set", "train.log_every=50",
        "--set", "train.tensorboard=true",
    )  # fmt: skip
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    model = weights.load(tmp_path / "weights" / "pixel-best.safetensors")
    frames = [np.asarray(Image.open(p)) for p in sorted((tiny_set / "train_sharp" / "000").iterdir())]
    hr = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2)  # (T, 3, H, W) uint8
    lr = downsample(hr, 2, "bicubic")
    ours = metrics.psnr_y(upscale_clip(model, lr, 2, 5).float() / 255, hr.float() / 255, crop=2).mean().item()
    bicubic = metrics.psnr_y(upscale_baseline(lr, 2, "bicubic").float() / 255, hr.float() / 255, crop=2).mean().item()
    print(f"tiny set: PSNR-Y {ours:.2f} dB, bicubic {bicubic:.2f} dB")
    assert ours >= bicubic + 1.0
    assert model.descriptor.metrics["psnr_y"] == pytest.approx(ours, abs=1e-6)  # what validation measured


def test_init_from_a_weights_file(smoke, tmp_path, capsys):
    start = smoke / "weights" / "final.safetensors"
    train("--set", f"output_dir={tmp_path}", "--set", f"init.generator={start}",
          "--set", "phases=[{name: tune, steps: 2, losses: {charbonnier: 1.0}}]")  # fmt: skip
    tuned = weights.load(tmp_path / "weights" / "final.safetensors")
    assert tuned.descriptor.steps == 10 + 2  # the file's steps plus this run's
    assert tuned.descriptor.metrics["init_steps"] == 10 and tuned.descriptor.metrics["init"] == str(start)
    capsys.readouterr()
    assert main(["train", "--config", SMOKE, "--set", f"output_dir={tmp_path / 'other'}",
                 "--set", f"init.generator={start}", "--set", "generator.params={num_blocks: 2}"]) == 2  # fmt: skip
    assert "init.generator" in capsys.readouterr().err
    # Starting afresh over an earlier run's checkpoints is refused.
    assert main(["train", "--config", SMOKE, "--set", f"output_dir={tmp_path}"]) == 2
    assert "--resume auto" in capsys.readouterr().err


def test_a_fine_tune_may_add_the_reach_gate_to_its_init(smoke, tmp_path):
    """The gate holds no weights: a trained file without it starts a run with it, and the run's
    weights carry it. Any other difference from the file is refused (the test above)."""
    start = smoke / "weights" / "final.safetensors"
    train("--set", f"output_dir={tmp_path}", "--set", f"init.generator={start}",
          "--set", "generator.params.neighbour_reach=1", "--set", "phases=[{name: tune, steps: 1, losses: {charbonnier: 1.0}}]")  # fmt: skip
    tuned = weights.load(tmp_path / "weights" / "final.safetensors")
    assert tuned.neighbour_reach == 1 and tuned.descriptor.arch_params["neighbour_reach"] == 1
    assert weights.load(start).neighbour_reach == 0


def test_a_fine_tune_records_everything_its_generator_saw_even_if_the_init_file_changes(smoke, tmp_path):
    """The tuned model's train_data lists the init's data, then this run's; a resumed run keeps
    the init it started from, though the file was replaced meanwhile."""
    start = tmp_path / "start.safetensors"
    shutil.copy(smoke / "weights" / "final.safetensors", start)
    tune = ("--set", f"output_dir={tmp_path / 'run'}", "--set", f"init.generator={start}",
            "--set", "data.sources=[{kind: offline, names: [camera]}]",
            "--set", "phases=[{name: tune, steps: 4, losses: {charbonnier: 1.0}}]", "--set", "train.checkpoint_every=2")
    train(*tune, "--stop-after", "2")
    shutil.copy(weights.save(weights.load(start), tmp_path / "other.safetensors", steps=99), start)
    train(*tune, "--resume", "auto")
    d = weights.load(tmp_path / "run" / "weights" / "final.safetensors").descriptor
    assert d.steps == 10 + 4
    assert [e["source"] for e in d.train_data] == ["skimage/data/astronaut.png", "skimage/data/chelsea.png",
                                                   "skimage/data/camera.png"]  # fmt: skip


def test_config_mistakes_are_one_line(tmp_path, capsys):
    assert main(["train", "--config", SMOKE, "--set", "phases.0.losses.charbonier=1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "phases[0].losses.charbonier: unknown key" in err
    assert main(["train", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read config" in capsys.readouterr().err


def test_torchrun_two_processes_with_gloo(tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    command = [str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "training", "train", "--config", SMOKE,
               "--set", f"output_dir={tmp_path}", "--set", "train.checkpoint_every=2", "--set", "validation.every=4",
               "--set", "phases=[{name: pixel, steps: 4, losses: {charbonnier: 1.0}}]"]  # fmt: skip
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == str(tmp_path)  # printed once, by rank 0
    state = checkpoint.load(tmp_path / "checkpoints" / "step-00000004.pt")
    assert state["world_size"] == 2 and state["step"] == 4
    assert [int(r["step"]) for r in read_csv(tmp_path / "train.csv")] == [1, 2, 3, 4]
    assert weights.load(tmp_path / "weights" / "final.safetensors").descriptor.steps == 4


def test_learning_rate_schedule_and_ema():
    phase = PhaseConfig("p", steps=11, losses=LossConfig(mse=1.0), warmup=1, final_lr=0.1)
    assert lr_factor(phase, 0) == 1.0  # the warm-up's one step ends at the full rate
    assert lr_factor(phase, 1) == pytest.approx(1.0) and lr_factor(phase, 11) == pytest.approx(0.1)
    assert lr_factor(phase, 6) == pytest.approx(0.55)  # half way down the cosine
    assert lr_factor(PhaseConfig("w", steps=10, losses=LossConfig(mse=1.0), warmup=4), 1) == pytest.approx(0.5)
    model, ema = torch.nn.Linear(1, 1, bias=False), torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.ones_(model.weight), torch.nn.init.zeros_(ema.weight)
    ema_update(ema, model, updates=0, decay=0.999)  # warm-up decay (1 + 0) / (10 + 0) = 0.1
    assert ema.weight.item() == pytest.approx(0.9)
    ema_update(ema, model, updates=10**6, decay=0.5)
    assert ema.weight.item() == pytest.approx(0.95)


def test_resume_auto_with_every_checkpoint_corrupt_stops_naming_the_fix(tmp_path, capsys):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for step in (5, 10):
        checkpoint.path_for(folder, step).write_bytes(b"not a checkpoint")
    assert main(["train", "--config", SMOKE, "--set", f"output_dir={tmp_path}", "--resume", "auto"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "Traceback" not in error
    assert re.search(r"--resume auto needs a readable checkpoint, but all 2 in .*checkpoints are corrupt .*; move them "
                     r"out of .*checkpoints to train from step 0, or set another output_dir", error), error  # fmt: skip
    assert not (tmp_path / "train.csv").exists()  # no step was trained
