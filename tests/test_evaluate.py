"""`python -m training evaluate` end to end on a tiny clip folder with a fresh lite model: the
table, results.json, and an index.html that headless Chromium renders with every image."""

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from training.__main__ import main
from training.scoring import EvalSettings, lr_input
from training.report import TABLE_COLUMNS
from vsvsr import models, weights

REPO = Path(__file__).resolve().parents[1]
METRIC_KEYS = {"psnr_y", "ssim_y", "lpips", "tof", "tlp", "temporal_error", "seconds_per_mp"}
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
)  # fmt: skip


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    """Two clips of a slowly panning astronaut: 3 frames of 64x56, 4 frames of 66x50 (which
    the loader crops to 64x48)."""
    root = tmp_path_factory.mktemp("clips")
    photo = data.astronaut()
    for name, frames, (width, height) in (("pan", 3, (64, 56)), ("odd_size", 4, (66, 50))):
        (root / name).mkdir()
        for t in range(frames):
            frame = photo[180 + t : 180 + t + height, 200 + t : 200 + t + width]
            Image.fromarray(frame).save(root / name / f"{t:04d}.png")
    return root


@pytest.fixture(scope="module")
def lite_weights(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    return weights.save(models.build("lite"), tmp_path_factory.mktemp("weights") / "lite.safetensors")


@pytest.fixture(scope="module")
def x2_run(tiny_data, lite_weights, tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    report = tmp_path_factory.mktemp("report") / "x2"
    command = [sys.executable, "-m", "training", "evaluate", "--weights", str(lite_weights), "--scale", "2",
               "--data", str(tiny_data), "--report", str(report)]  # fmt: skip
    return subprocess.run(command, check=False, capture_output=True, text=True, cwd=REPO, timeout=600), report


def test_prints_the_table_and_the_shot_edges(x2_run, tiny_data):
    result, report = x2_run
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    table = [line for line in lines if line.startswith("|")]
    header = [cell.strip() for cell in table[0].strip("|").split("|")]
    assert header == ["Dataset", "Method", "Scale", "Downsampling"] + [c[0] for c in TABLE_COLUMNS]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in table[2:]]
    assert [r[1] for r in rows] == ["bicubic", "bilinear", "lanczos", "lite (untrained)"]
    assert all(r[0] == tiny_data.name and r[2] == "x2" and r[3] == "bicubic" for r in rows)
    assert all(float(cell) >= 0 for r in rows for cell in r[4:])
    # Each clip is a shot: its end frames' gain over bicubic against the frames' inside it.
    clips = json.loads((report / "results.json").read_text())["clips"]
    gains = [np.subtract(c["metrics"]["lite"]["psnr_y_per_frame"], c["metrics"]["bicubic"]["psnr_y_per_frame"])
             for c in clips]  # fmt: skip
    gap = np.mean([g[1:-1].mean() - (g[0] + g[-1]) / 2 for g in gains])
    assert [line for line in lines if line.startswith("Shot edges")] == [
        f"Shot edges: each clip's first and last frames gain {gap:+.3f} dB less over bicubic than the frames "
        "inside (PSNR-Y, mean over clips)"
    ]


def test_writes_results_json(x2_run, tiny_data):
    _, report = x2_run
    results = json.loads((report / "results.json").read_text())
    settings = results["settings"]
    assert settings | {"data": str(tiny_data), "scale": 2, "downsample": "bicubic", "crop": 2} == settings
    assert [m["name"] for m in results["methods"]] == ["bicubic", "bilinear", "lanczos", "lite"]
    assert results["methods"][-1] == {"name": "lite", "kind": "model", "trained": False}
    assert results["model"]["arch"] == "lite" and results["model"]["trained"] is False
    assert any("untrained" in note for note in results["notes"])
    assert set(results["mean"]) == {"bicubic", "bilinear", "lanczos", "lite"}
    assert all(set(values) == METRIC_KEYS for values in results["mean"].values())
    assert [(c["name"], c["frames"], c["width"], c["height"]) for c in results["clips"]] == [
        ("odd_size", 4, 64, 48),
        ("pan", 3, 64, 56),
    ]
    for clip in results["clips"]:
        for values in clip["metrics"].values():
            assert set(values) == METRIC_KEYS | {"psnr_y_per_frame", "tlp_signed"}
            assert abs(values["tlp_signed"]) <= values["tlp"]
            assert len(values["psnr_y_per_frame"]) == clip["frames"]
            assert np.isclose(np.mean(values["psnr_y_per_frame"]), values["psnr_y"])
    psnr = {m: v["psnr_y"] for m, v in results["mean"].items()}
    assert psnr["lanczos"] > psnr["bicubic"] > psnr["bilinear"]


def test_report_opens_offline_with_every_image_loaded(x2_run):
    _, report = x2_run
    index = report / "index.html"
    page = index.read_text()
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in page
    for section in ("odd_size", "pan"):
        assert f'id="{section}"' in page
    assert page.count("<svg") == 2  # one PSNR-per-frame plot per clip

    images = _render(index)
    # Per clip: the overview, then crop, detail and temporal profile of 4 methods + ground truth.
    assert images["count"] == 2 * (1 + 3 * 5)
    assert images["broken"] == []


def test_scale_4_with_bilinear_inputs_and_chosen_baselines(tiny_data, lite_weights, tmp_path, capsys):
    code = main(["evaluate", "--weights", str(lite_weights), "--scale", "4", "--downsample", "bilinear",
                 "--baselines", "lanczos", "--data", str(tiny_data), "--report", str(tmp_path)])  # fmt: skip
    assert code == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert (results["settings"]["scale"], results["settings"]["downsample"]) == (4, "bilinear")
    assert [m["name"] for m in results["methods"]] == ["lanczos", "lite"]
    assert any("trained on bicubic inputs and is evaluated on bilinear" in n for n in results["notes"])
    assert len(capsys.readouterr().out.strip().splitlines()) == 4


def test_compressed_inputs_come_through_a_real_codec(tiny_data, lite_weights, tmp_path, capsys):
    """--compression: the LR clip is encoded and decoded before upscaling, scored against the
    clean HR; the lossy inputs cost every method PSNR, and the codec is deterministic."""
    clean, h264 = (EvalSettings(2, data=str(tiny_data), compression=c) for c in ("none", "h264"))
    hr = torch.from_numpy(data.astronaut()[100:164, 200:264].copy()).permute(2, 0, 1)[None].repeat(4, 1, 1, 1)
    a, b = lr_input(hr, h264), lr_input(hr, clean)
    assert a.shape == b.shape and a.dtype == torch.uint8 and not torch.equal(a, b)
    assert torch.equal(a, lr_input(hr, h264))
    scores = {}
    for condition in ("none", "h264", "mpeg2"):
        code = main(["evaluate", "--weights", str(lite_weights), "--scale", "2", "--data", str(tiny_data),
                     "--compression", condition, "--baselines", "bicubic", "--report", str(tmp_path / condition)])  # fmt: skip
        assert code == 0
        results = json.loads((tmp_path / condition / "results.json").read_text())
        scores[condition] = results["mean"]["bicubic"]["psnr_y"]
        assert results["settings"]["compression"] == condition
        assert any("encoded with" in n for n in results["notes"]) == (condition != "none")
    assert scores["h264"] < scores["none"] and scores["mpeg2"] < scores["none"]
    assert f"| {tiny_data.name}, h264 |" in capsys.readouterr().out


def test_a_shipped_model_is_named_as_asked_for(tiny_data, tmp_path):
    """lite_gan is a lite generator; its rows say lite_gan, not the arch."""
    assert main(["evaluate", "--model", "lite_gan", "--scale", "2", "--data", str(tiny_data), "--baselines", "",
                 "--report", str(tmp_path)]) == 0  # fmt: skip
    assert [m["name"] for m in json.loads((tmp_path / "results.json").read_text())["methods"]] == ["lite_gan"]


def test_window_override_runs_the_same_weights_frame_by_frame(tiny_data, lite_weights, tmp_path):
    scores = {}
    for window in ("5", "1"):
        code = main(["evaluate", "--weights", str(lite_weights), "--scale", "2", "--data", str(tiny_data),
                     "--window", window, "--baselines", "", "--report", str(tmp_path / window)])  # fmt: skip
        assert code == 0
        results = json.loads((tmp_path / window / "results.json").read_text())
        scores[window] = results["mean"]
    assert list(scores["5"]) == ["lite, window 5"] and list(scores["1"]) == ["lite, window 1"]
    assert scores["5"]["lite, window 5"]["psnr_y"] != scores["1"]["lite, window 1"]["psnr_y"]
    assert main(["evaluate", "--weights", str(lite_weights), "--scale", "2", "--window", "0",
                 "--report", str(tmp_path / "0")]) == 2  # fmt: skip


def test_a_bug_keeps_its_traceback(lite_weights, tiny_data, tmp_path, monkeypatch):
    """python -m training prints user errors as one line; any other exception escapes."""
    import training.evaluate

    def broken(*args, **kwargs):
        raise ValueError("a bug, not the user's mistake")

    monkeypatch.setattr(training.evaluate, "score_methods", broken)
    with pytest.raises(ValueError, match="a bug"):
        main(["evaluate", "--weights", str(lite_weights), "--scale", "2", "--data", str(tiny_data), "--baselines", "",
              "--report", str(tmp_path / "r")])  # fmt: skip


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--model", "nosuch"], "unknown model 'nosuch'"),
        (["--model", "lite"], "has no shipped weights yet"),
        (["--weights", "missing.safetensors"], "--weights: file missing.safetensors does not exist"),
        (["--weights", "{weights}", "--scale", "3"], "argument --scale: invalid choice: 3"),
        (["--weights", "{weights}", "--data", "no/such/folder"], "--data no/such/folder: no such folder"),
        (["--weights", "{weights}", "--baselines", "bicubic,cubic"], "--baselines: unknown cubic"),
        (["--weights", "{not_weights}"], "is not a readable safetensors file"),
    ],
)
def test_user_errors_are_one_line(arguments, message, lite_weights, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(weights, "WEIGHTS_DIR", tmp_path / "no-weights")  # as before any model ships
    not_weights = tmp_path / "notes.txt"
    not_weights.write_text("not weights")
    arguments = [a.format(weights=lite_weights, not_weights=not_weights) for a in arguments]
    if "--scale" not in arguments:
        arguments += ["--scale", "2"]
    try:
        code = main(["evaluate", *arguments, "--report", str(tmp_path / "report")])
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def _render(index: Path) -> dict:
    """Open `index` in headless Chromium; count its images and list those that did not load."""
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or chromedriver is None:
        pytest.fail("headless Chromium is missing (Debian's chromium and chromium-driver): run `make setup`")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("selenium is missing: run `make setup` (it installs the test dependencies)")

    options = Options()
    options.binary_location = chromium
    with tempfile.TemporaryDirectory() as profile:
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        driver = webdriver.Chrome(options=options, service=Service(chromedriver))
        try:
            driver.get(index.as_uri())  # returns after the load event: every image settled
            return driver.execute_script(
                "const images = [...document.images];"
                "return {count: images.length,"
                "        broken: images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)};"
            )
        finally:
            driver.quit()


def test_window_versus_static_tells_a_moving_clip_from_a_still_one():
    from training.data.evalset import Clip
    from training.scoring import EvalSettings, window_versus_static

    torch.manual_seed(0)
    model = models.build("lite")
    torch.nn.init.normal_(model.nonlocal_block.project.weight, std=0.5)  # a block that mixes frames
    photo = torch.from_numpy(data.astronaut()[100:164, 100:228]).permute(2, 0, 1)
    still = Clip("still", photo[:, :, :64].expand(5, -1, -1, -1).contiguous(), "test")
    moving = Clip("moving", torch.stack([photo[:, :, 8 * t : 8 * t + 64] for t in range(5)]), "test")
    found = window_versus_static(model, [still, moving], EvalSettings(2))
    assert found["still"][0] == found["still"][1]  # its window is five copies already
    assert found["moving"][0] != found["moving"][1]
