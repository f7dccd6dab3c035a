"""The vsvsr command: every error the user can fix is one clear line and a non-zero exit, leaving
nothing behind, and a bug keeps its traceback; `vsvsr info` reports the machine."""

import re
import sys
import subprocess

import pytest
import torch
from pipeline_media import make_input, tiny_weights

from vsvsr import weights
from vsvsr.cli import main
from vsvsr.pipeline import tools


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("files")
    made = {
        "model": tiny_weights(folder / "tiny.safetensors"),
        "video": make_input(folder / "in.mkv", seconds=0.5, audio=False, subtitles=False),
        "interlaced": make_input(folder / "interlaced.mkv", seconds=0.5, audio=False, subtitles=False,
                                 video_args=("-vf", "setfield=tff", "-flags", "+ildct+ilme")),
        "text": folder / "notes.txt",
        "audio": folder / "audio.mka",
        "vfr": folder / "vfr.mkv",
    }
    made["text"].write_text("not a video\n")
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=duration=0.5", str(made["audio"])], check=True)
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=64x48:r=25:d=1", "-vf",
                    "setpts='if(lt(N,10),N,N*2)/25/TB'", "-fps_mode", "vfr", "-c:v", "ffv1", str(made["vfr"])],
                   check=True)  # fmt: skip
    return made


ERRORS = [
    # (input, extra arguments, the one line's pattern)
    ("missing.mkv", [], r"cannot read .*missing\.mkv: no such file"),
    ("text", [], r"cannot read .*notes\.txt: Invalid data found"),
    ("audio", [], r"audio\.mka has no video stream"),
    ("video", ["--scale", "3"], r"scale must be 2 or 4, not 3: the model is x2"),
    ("video", ["--model", "huge"], r"unknown model 'huge'"),
    ("video", ["--codec", "libnope"], r"ffmpeg has no encoder 'libnope'; list them with: ffmpeg -encoders"),
    ("video", ["--pix-fmt", "gbrp"], r"libx264 cannot encode --pix-fmt; pass --pix-fmt, one of: yuv420p"),
    ("video", ["--pix-fmt", "nonsense"], r"unknown pixel format 'nonsense'"),
    ("video", ["--codec", "ffv1", "--crf", "10"], r"ffv1 has no -crf option; leave out --crf"),
    ("video", ["--vf-post", "nofilter"], r"No such filter: 'nofilter'"),
    ("video", ["--vf-pre", "scale=w=x"], r"--vf-pre failed: Invalid size 'x'"),
    ("video", ["--codec", "ffv1", "OUT.mp4"], r"Could not find tag for codec ffv1"),
    ("video", ["--tile", "4"], r"tile must be at least"),
    ("video", ["--precision", "fp8"], r"precision must be one of"),
    ("video", ["--device", "banana"], r"device must be cpu, cuda or cuda:N .*, not 'banana'; pass one of those"),
    ("interlaced", [], r"is interlaced \(field order \w+\); deinterlace it with --vf-pre bwdif"),
    ("vfr", [], r"variable frame rate .* -vf fps=25"),
]


@pytest.mark.parametrize("name, extra, message", ERRORS, ids=[f"{e[0]}-{'-'.join(e[1]) or 'plain'}" for e in ERRORS])
def test_errors_are_one_line_and_leave_nothing(files, tmp_path, capsys, name, extra, message):
    source = files.get(name, tmp_path / name)
    output = tmp_path / ("out.mp4" if "OUT.mp4" in extra else "out.mkv")
    extra = [a for a in extra if a != "OUT.mp4"]
    model = [] if "--model" in extra else ["--weights", files["model"]]
    assert main(["upscale", str(source), str(output), *model, "--quiet", *extra]) == 2
    out, err = capsys.readouterr()
    error = err.strip().splitlines()[-1]  # (progress lines such as "vsvsr: scanning ..." may come before)
    assert out == "" and error.startswith("vsvsr upscale: ") and "Traceback" not in err, err
    assert re.search(message, error), err
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no OUTPUT, no work folder


def test_a_bug_is_not_dressed_as_a_user_error(files, tmp_path, monkeypatch, capsys):
    """Only vsvsr's own user errors become one line; a ValueError from inside (a bug) keeps its
    traceback, so it can be reported."""
    import vsvsr.pipeline

    def broken(*args, **kwargs):
        raise ValueError("list.index(x): x not in list")

    monkeypatch.setattr(vsvsr.pipeline, "upscale", broken)
    with pytest.raises(ValueError, match="not in list"):
        main(["upscale", str(files["video"]), str(tmp_path / "out.mkv"), "--weights", files["model"], "--quiet"])
    assert capsys.readouterr().err == ""


def test_export_onnx_window_is_a_user_error(files, tmp_path, capsys):
    assert main(["export-onnx", "--weights", files["model"], "--window", "0", str(tmp_path / "m.onnx")]) == 2
    assert capsys.readouterr().err.strip() == "vsvsr export-onnx: window must be at least 1 frame, not 0"


def test_default_model_explains_itself_while_none_ships(files, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(weights, "WEIGHTS_DIR", tmp_path / "no-weights")
    assert main(["upscale", str(files["video"]), str(tmp_path / "out.mkv")]) == 2
    assert "model 'lite' has no shipped weights yet" in capsys.readouterr().err


def test_existing_output_needs_overwrite(files, tmp_path, capsys):
    output = tmp_path / "out.mkv"
    output.write_text("keep me")
    assert main(["upscale", str(files["video"]), str(output), "--weights", files["model"]]) == 2
    assert capsys.readouterr().err.strip() == f"vsvsr upscale: {output} exists; pass --overwrite to replace it"
    assert output.read_text() == "keep me"


def test_missing_ffmpeg(files, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    tools.tool.cache_clear()
    try:
        assert main(["upscale", str(files["video"]), str(tmp_path / "out.mkv"), "--weights", files["model"]]) == 2
    finally:
        tools.tool.cache_clear()
    assert capsys.readouterr().err.strip() == "vsvsr upscale: ffmpeg not found on PATH; install ffmpeg (e.g. apt-get install ffmpeg)"


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu(files, tmp_path, capsys):
    assert main(["upscale", str(files["video"]), str(tmp_path / "out.mkv"), "--weights", files["model"], "--device", "cuda"]) == 2
    assert "torch sees no CUDA device; use device='cpu'" in capsys.readouterr().err


def test_info_reports_torch_vapoursynth_and_ffmpeg(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"torch {torch.__version__}: CUDA" in out
    assert "default precision: " in out
    assert "VapourSynth: R" in out and "with core.vsr" in out
    assert "(with zscale and scdet)" in out


# Ctrl-C while `vsvsr` is still importing torch (seconds on a cold start): the interrupt is
# raised from whichever import is running, so raise it from torch's, as the user's key would.
INTERRUPTED_IMPORT = """
import builtins, runpy, sys
real_import = builtins.__import__

def interrupted(name, *args, **kwargs):
    if name == "torch" or name.startswith("torch."):
        raise KeyboardInterrupt
    return real_import(name, *args, **kwargs)

builtins.__import__ = interrupted
sys.argv = ["vsvsr", *sys.argv[1:]]
runpy.run_module("vsvsr", run_name="__main__")
"""


@pytest.mark.parametrize("command", [["upscale", "in.mkv", "out.mkv"], ["models"]])
def test_ctrl_c_while_torch_imports_exits_130_with_one_line(tmp_path, command):
    done = subprocess.run([sys.executable, "-c", INTERRUPTED_IMPORT, *command], cwd=tmp_path, capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert done.returncode == 130 and done.stdout == "", done.stderr
    assert done.stderr == f"vsvsr {command[0]}: interrupted\n"
