"""core.vsr: the native plugin shim (vsvsr/native/vsr_shim.c) and its Python side.

Every check runs in a fresh process, the way users meet the plugin: a script that never imports
vsvsr, `vspipe`, and a native host without Python. Needs `make setup` (it installs the shim into
site-packages/vapoursynth/plugins/vsr/).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

vs = pytest.importorskip("vapoursynth")

VS_DIR = Path(vs.__file__).parent
VSPIPE = VS_DIR / "vspipe"
SIGNATURE = (
    "clip:vnode;scale:int:opt;model:data:opt;weights:data:opt;window:int:opt;tile:int:opt;"
    "overlap:int:opt;device:data:opt;precision:data:opt;num_streams:int:opt;threads:int:opt;mode:data:opt;backend:data:opt;"
    "batch:int:opt;"
)
NOT_INSTALLED = "core.vsr is missing: run `make setup` (it installs the plugin shim)"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A clean environment with its own VapourSynth config (vspipe needs one) and nothing that
    points VapourSynth at extra plugins: the shim must be found by autoloading alone."""
    config_home = tmp_path_factory.mktemp("xdg")
    env = {k: v for k, v in os.environ.items() if k != "VAPOURSYNTH_EXTRA_PLUGIN_PATH"}
    env["XDG_CONFIG_HOME"] = str(config_home)
    subprocess.run([sys.executable, "-m", "vapoursynth", "config"], env=env, check=True, capture_output=True)
    return env


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A small fresh generator: these tests check the plumbing, not the picture."""
    import torch

    from vsvsr import models, weights

    torch.manual_seed(0)
    return str(weights.save(models.build("lite", num_blocks=1), tmp_path_factory.mktemp("w") / "tiny.safetensors"))


def with_weights(script: str, weights_file: str) -> str:
    """The script with `W` bound to the weights file (scripts pass weights=W to SRGAN)."""
    return f"W = {weights_file!r}\n" + textwrap.dedent(script)


def run_python(code: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    """Runs `code` in a new interpreter (outside the repository, so vsvsr comes from the install)
    and fails with its stderr if it fails. Scripts report by asserting, never by printing."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=cwd, capture_output=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc


def run_vspipe(script: str, tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    path = tmp_path / "script.vpy"
    path.write_text(textwrap.dedent(script))
    return subprocess.run([str(VSPIPE), *args, str(path), "-"], env=env, cwd=tmp_path, capture_output=True, timeout=300)


def read_y4m(stream: bytes) -> tuple[dict[str, str], int]:
    """Parses a 4:4:4 8-bit y4m stream strictly (any stray byte fails): (header fields, frames)."""
    header, _, rest = stream.partition(b"\n")
    assert header.startswith(b"YUV4MPEG2 "), stream[:80]
    fields = {token[:1].decode(): token[1:].decode() for token in header.split()[1:]}
    assert fields["C"] == "444", fields
    frame_bytes = int(fields["W"]) * int(fields["H"]) * 3
    frames = 0
    while rest:
        marker, _, rest = rest.partition(b"\n")
        assert marker.startswith(b"FRAME"), f"frame {frames}: {marker[:40]!r}"
        assert len(rest) >= frame_bytes, f"frame {frames} is short"
        rest = rest[frame_bytes:]
        frames += 1
    return fields, frames


def test_namespace_is_autoloaded_without_importing_vsvsr(env, tmp_path):
    proc = run_python(
        f"""
        import sys
        import vapoursynth as vs
        assert hasattr(vs.core, "vsr"), {NOT_INSTALLED!r}
        assert vs.core.vsr.SRGAN.signature == {SIGNATURE!r}, vs.core.vsr.SRGAN.signature
        assert vs.core.vsr.SRGAN.return_signature == "clip:vnode;"
        assert "vsvsr" not in sys.modules
        """,
        env,
        tmp_path,
    )
    assert proc.stdout == b""


def test_scales_2_and_4_give_the_right_size_and_frames(env, tmp_path, weights_file):
    proc = run_python(
        with_weights("""
        import sys
        import vapoursynth as vs
        core = vs.core
        src = core.std.BlankClip(format=vs.RGBS, width=64, height=48, length=5, color=[0.25, 0.5, 0.75])
        for scale in (2, 4):
            out = core.vsr.SRGAN(src, scale=scale, weights=W)
            assert (out.width, out.height, out.num_frames, out.format.id) == (64 * scale, 48 * scale, 5, vs.RGBS)
            for n in range(out.num_frames):
                frame = out.get_frame(n)
                assert (frame.width, frame.height) == (64 * scale, 48 * scale)
        assert core.vsr.SRGAN(src, weights=W).width == 128  # scale defaults to 2

        # the plugin forwards to, and scripts may call, the same Python function
        import vsvsr
        direct = vsvsr.SRGAN(src, scale=2, weights=W)
        via_core = core.vsr.SRGAN(src, scale=2, weights=W)
        diff = core.std.PlaneStats(direct, via_core, plane=0).get_frame(0).props["PlaneStatsDiff"]
        assert diff == 0, diff
        # every argument of the signature reaches Python without tripping anything
        core.vsr.SRGAN(src, scale=2, weights=W, window=3, tile=64, overlap=8, device="cpu",
                       precision="fp32", num_streams=1, threads=1, mode="centre", batch=2).get_frame(0)
        """, weights_file),
        env,
        tmp_path,
    )
    assert proc.stdout == b""


def test_python_errors_become_the_filters_error(env, tmp_path, weights_file):
    proc = run_python(
        with_weights("""
        import vapoursynth as vs
        core = vs.core
        src = core.std.BlankClip(format=vs.RGBS, width=64, height=48, length=5)
        for bad in (3, 0, -2):
            try:
                core.vsr.SRGAN(src, scale=bad, weights=W)
            except vs.Error as exc:
                message = str(exc)
            else:
                raise AssertionError(f"scale={bad} was accepted")
            assert message.startswith("vsr.SRGAN: scale must be 2 or 4"), message
            assert "Traceback" not in message, message
        # the internal handshake functions refuse ids nobody parked
        for call in (lambda: core.vsr.ShimTake(id=123456), lambda: core.vsr.ShimGive(clip=src, id=123456)):
            try:
                call()
            except vs.Error as exc:
                assert "internal to vsr.SRGAN" in str(exc), str(exc)
            else:
                raise AssertionError("a handshake function accepted an unknown id")
        """, weights_file),
        env,
        tmp_path,
    )
    assert proc.stdout == b""


def test_many_filters_leak_no_nodes(env, tmp_path, weights_file):
    # VapourSynth counts filter instances and warns when a core is freed with some still alive;
    # vspipe frees its core at the end and prints that warning, so a leaked node shows up there.
    proc = run_vspipe(
        with_weights("""
        import vapoursynth as vs
        core = vs.core
        for i in range(200):
            src = core.std.BlankClip(format=vs.RGBS, width=32, height=24, length=2)
            out = core.vsr.SRGAN(src, scale=2 if i % 2 else 4, weights=W)
            if i % 20 == 0:
                out.get_frame(1)
            try:
                core.vsr.SRGAN(src, scale=3, weights=W)
            except vs.Error:
                pass
        del src, out
        clip = core.vsr.SRGAN(core.std.BlankClip(format=vs.RGBS, width=32, height=24, length=3), weights=W)
        core.resize.Bicubic(clip, format=vs.YUV444P8, matrix_s="709").set_output()
        """, weights_file),
        tmp_path,
        env,
        "-c",
        "y4m",
    )
    stderr = proc.stderr.decode(errors="replace")
    assert proc.returncode == 0, stderr
    assert "still exist" not in stderr and "still allocated" not in stderr, stderr
    assert read_y4m(proc.stdout)[1] == 3


def test_vspipe_streams_valid_y4m_with_concurrent_requests(env, tmp_path, weights_file):
    proc = run_vspipe(
        with_weights("""
        import vapoursynth as vs
        core = vs.core
        core.num_threads = 4
        src = core.std.BlankClip(format=vs.RGBS, width=40, height=24, length=24, color=[0.2, 0.4, 0.6])
        out = core.vsr.SRGAN(src, scale=4, weights=W)
        core.resize.Bicubic(out, format=vs.YUV444P8, matrix_s="709").set_output()
        """, weights_file),
        tmp_path,
        env,
        "-c",
        "y4m",
        "--requests",
        "8",
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    fields, frames = read_y4m(proc.stdout)  # strict: anything printed to stdout would break it
    assert (fields["W"], fields["H"], frames) == ("160", "96", 24)


def test_vspipe_reports_python_errors(env, tmp_path, weights_file):
    proc = run_vspipe(
        with_weights("""
        import vapoursynth as vs
        src = vs.core.std.BlankClip(format=vs.RGBS, width=40, height=24, length=2)
        vs.core.vsr.SRGAN(src, scale=3, weights=W).set_output()
        """, weights_file),
        tmp_path,
        env,
        "-c",
        "y4m",
    )
    assert proc.returncode != 0
    assert proc.stdout == b""
    assert "vsr.SRGAN: scale must be 2 or 4" in proc.stderr.decode(errors="replace")


def test_filters_from_several_threads_and_concurrent_frames(env, tmp_path, weights_file):
    proc = run_python(
        with_weights("""
        import threading
        import vapoursynth as vs
        core = vs.core
        core.num_threads = 4
        src = core.std.BlankClip(format=vs.RGBS, width=32, height=24, length=16)
        errors = []

        def create(k):
            try:
                for i in range(25):
                    scale = 2 if (i + k) % 2 else 4
                    assert core.vsr.SRGAN(src, scale=scale, weights=W).width == 32 * scale
                    try:
                        core.vsr.SRGAN(src, scale=5, weights=W)
                    except vs.Error as exc:
                        assert "scale must be 2 or 4" in str(exc)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=create, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads), "deadlock"
        assert not errors, errors

        out = core.vsr.SRGAN(src, scale=2, weights=W)
        frames = [f.result(timeout=60) for f in [out.get_frame_async(n) for n in range(out.num_frames)]]
        assert [f.width for f in frames] == [64] * 16
        """, weights_file),
        env,
        tmp_path,
    )
    assert proc.stdout == b""


HOST_C = r"""
#include <stdio.h>
#include "VapourSynth4.h"
/* A native host without Python: vsr.SRGAN must fail with a message, not crash. */
int main(void) {
    const VSAPI *vsapi = getVapourSynthAPI(VAPOURSYNTH_API_VERSION);
    VSCore *core = vsapi->createCore(0);
    VSPlugin *vsr = vsapi->getPluginByNamespace("vsr", core);
    if (!vsr) {
        printf("no vsr namespace\n");
        return 1;
    }
    VSMap *args = vsapi->createMap();
    VSMap *blank = vsapi->invoke(vsapi->getPluginByNamespace("std", core), "BlankClip", args);
    vsapi->mapConsumeNode(args, "clip", vsapi->mapGetNode(blank, "clip", 0, NULL), maReplace);
    vsapi->freeMap(blank);
    VSMap *out = vsapi->invoke(vsr, "SRGAN", args);
    const char *error = vsapi->mapGetError(out);
    printf("%s\n", error ? error : "no error");
    vsapi->freeMap(out);
    vsapi->freeMap(args);
    vsapi->freeCore(core);
    return 0;
}
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="links libvapoursynth the GNU ld way")
def test_native_host_without_python_gets_an_error_not_a_crash(env, tmp_path):
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler")
    (tmp_path / "host.c").write_text(HOST_C)
    subprocess.run(
        [compiler, "host.c", "-I", str(VS_DIR / "include"), "-L", str(VS_DIR), "-l:libvapoursynth.so.4",
         f"-Wl,-rpath,{VS_DIR}", "-o", "host"],
        cwd=tmp_path, check=True, capture_output=True,
    )
    proc = subprocess.run([str(tmp_path / "host")], env=env, cwd=tmp_path, capture_output=True, timeout=60)
    out = proc.stdout.decode(errors="replace")
    assert proc.returncode == 0, out + proc.stderr.decode(errors="replace")
    assert out.startswith("vsr.SRGAN: no Python is running in this process"), out
