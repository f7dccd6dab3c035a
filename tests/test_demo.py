import re
import subprocess

import numpy as np
import torch
from PIL import Image

from vsvsr import models, weights
from vsvsr.cli import main
from vsvsr.resize import downsample, quantize8, upsample
from vsvsr.sample import sample_clip


def test_sample_clip_is_a_moving_real_photo():
    clip = sample_clip(3)
    assert clip.shape == (3, 3, 256, 384)
    assert torch.equal(clip[1, :, :-1, :-2], clip[0, :, 1:, 2:])  # 2 px right, 1 px down per frame
    assert clip.std() > 0.1


def test_demo_runs_the_vspipe_x264_flow(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--frames", "3"]) == 0
    out, err = capsys.readouterr()
    bicubic, srgan = (float(v) for v in re.search(r"bicubic ([\d.]+) dB, SRGAN ([\d.]+) dB", out).groups())
    if weights.DEFAULT_MODEL in weights.shipped():
        # The shipped model beats bicubic on the sample even through vspipe and x264 (CRF 18).
        assert "UNTRAINED" not in err and srgan > bicubic + 0.3, (bicubic, srgan)
    else:
        assert "UNTRAINED" in err
    picture = np.asarray(Image.open(tmp_path / "side_by_side.png"))
    assert picture.shape == (256, 3 * 384, 3)  # bicubic | SRGAN | original
    video = tmp_path / "sample_x2.mkv"
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
         "stream=codec_name,width,height,nb_read_frames,pix_fmt", "-of", "csv=p=0", str(video)],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert probe == "h264,384,256,yuv420p10le,3"
    assert str(video) in out and str(tmp_path / "side_by_side.png") in out


def test_models_lists_every_variant(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("rrdb", "residual", "lite"))


def test_models_shows_a_shipped_models_measured_table(tmp_path, monkeypatch, capsys):
    row = {"psnr_y": 35.8, "lpips": 0.05, "tof": 0.02, "tlp": 0.003}
    table = {"bicubic": row | {"psnr_y": 32.69}, "lanczos": row | {"psnr_y": 33.34}, "lite": row}
    weights.save(models.build("lite"), tmp_path / "lite.safetensors", trained=True, steps=21000,
                 metrics={"x2-bicubic": table, "how": "training ship"})  # fmt: skip
    monkeypatch.setattr(weights, "WEIGHTS_DIR", tmp_path)
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "lite            483,152  shipped" in out and "21,000 steps" in out
    assert "x2-bicubic: PSNR-Y 35.80 dB (bicubic 32.69, lanczos 33.34), LPIPS 0.050" in out


def test_downsample_is_antialiased_bicubic_in_8_bit_levels():
    clip = sample_clip(1)
    lr = downsample(clip, 4)
    assert lr.shape == (1, 3, 64, 96)
    assert torch.equal(lr, quantize8(lr))
    pil = np.asarray(Image.fromarray((clip[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)).resize((96, 64), Image.BICUBIC))
    assert np.abs(lr[0].permute(1, 2, 0).numpy() * 255 - pil).mean() < 0.5  # PIL's bicubic, not torch's default
    assert upsample(lr, 4).shape == clip.shape
