"""Files vsvsr and training write (weights, checkpoints, a job's state.json): complete under
their final name or absent, and with the mode the user's umask gives (0666 & ~umask), like any
file a program creates."""

import os
import stat
import subprocess
import sys
import textwrap

import pytest
import torch

import vsvsr.models as models
from training import checkpoint
from vsvsr import weights
from vsvsr.atomic import atomic_path
from vsvsr.pipeline.segments import WorkDir

STATE = {"config": {}, "net_g": {"w": torch.ones(3)}, "ema": {}, "optim_g": {}, "scaler_g": {}, "rng": {},
         "data_position": 0}  # fmt: skip


def write_weights(folder):
    return weights.save(models.build("lite", num_blocks=1), folder / "w.safetensors")


def write_checkpoint(folder):
    return checkpoint.save({**STATE, "step": 1}, folder / "checkpoints", keep=2)


def write_state(folder):
    work = WorkDir(folder / "out.mkv")
    work.start({"input": "in.mkv"})
    return work.state_file


@pytest.fixture
def umask(request):
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077], indirect=True)
@pytest.mark.parametrize("write", [write_weights, write_checkpoint, write_state])
def test_created_files_get_the_umask_mode(tmp_path, umask, write):
    path = write(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_a_failed_write_leaves_no_file_and_keeps_the_old_one(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")
    assert path.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["data.bin"]


KILLED_MID_WRITE = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from vsvsr.atomic import atomic_path

    with atomic_path(Path(sys.argv[1])) as tmp:
        with open(tmp, "wb") as f:
            f.write(b"half")
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
""")


def test_a_write_killed_midway_never_appears_under_the_final_name(tmp_path):
    path = tmp_path / "w.safetensors"
    result = subprocess.run([sys.executable, "-c", KILLED_MID_WRITE, str(path)], check=False)
    assert result.returncode == -9 and not path.exists()


def test_a_segment_ffmpeg_wrote_is_on_disk_before_it_takes_its_name(tmp_path, monkeypatch):
    """Files another program writes (the pipeline's segments, its output) end as atomic_path's
    do: the data synced, then the rename, then the folder."""
    import vsvsr.atomic as atomic
    from vsvsr.pipeline.encode import SegmentEncoder

    steps = []
    monkeypatch.setattr(atomic, "_fsync_file", lambda p: steps.append(("data", p.name, p.exists())))
    monkeypatch.setattr(atomic, "_fsync_folder", lambda p: steps.append(("folder", p.name, True)))
    copy_stdin = [sys.executable, "-c", "import shutil, sys; shutil.copyfileobj(sys.stdin.buffer, open(sys.argv[1], 'wb'))"]
    segment = tmp_path / "0000.mkv"
    encoder = SegmentEncoder(segment, lambda partial: [*copy_stdin, str(partial)])
    encoder.write(torch.zeros(3, 2, 2))
    assert encoder.finish() == segment and segment.stat().st_size == 3 * 2 * 2 * 4
    assert steps == [("data", "0000.mkv.partial", True), ("folder", tmp_path.name, True)]
