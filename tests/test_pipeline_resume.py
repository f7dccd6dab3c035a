"""Interrupted jobs: a `vsvsr` process killed with SIGKILL then resumed gives the uninterrupted
run's frames without redoing finished segments; Ctrl-C stops cleanly."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pipeline_media import frame_hashes, make_input, tiny_weights

import vsvsr.pipeline.job as pipeline_job
from vsvsr.cli import main
from vsvsr.pipeline.segments import WorkDir

SEGMENT = 6  # frames; two windows of the tiny model's 5-frame context grid
FRAMES = 36


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    folder = tmp_path_factory.mktemp("job")
    model = tiny_weights(folder / "tiny.safetensors")
    source = make_input(folder / "in.mkv", seconds=FRAMES / 25, rate="25", subtitles=False)
    return source, model


def args(source: Path, output: Path, model: str) -> list[str]:
    return ["upscale", str(source), str(output), "--weights", model, "--precision", "fp32", "--codec", "ffv1",
            "--segment-frames", str(SEGMENT), "--quiet"]  # fmt: skip


def start_and_wait_for_segments(command: list[str], state: Path, count: int) -> subprocess.Popen:
    """Start `vsvsr` and return once its state file records `count` finished segments."""
    process = subprocess.Popen([sys.executable, "-m", "vsvsr", *command], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if len(json.loads(state.read_text())["finished"]) >= count:
                return process
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.01)
    process.kill()
    pytest.fail(f"the job never finished {count} segments: {process.communicate()[1]}")


def processes_using(path: Path) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(path) in text:
            found.append(text)
    return found


def test_killed_run_resumes_with_the_same_frames_without_redoing_finished_segments(job, tmp_path, monkeypatch, capsys):
    source, model = job
    output = tmp_path / "out.mkv"
    work = tmp_path / ".out.mkv.vsvsr"
    process = start_and_wait_for_segments(args(source, output, model), work / "state.json", 2)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert not output.exists()
    finished = {int(i) for i in json.loads((work / "state.json").read_text())["finished"]}

    encoded = []  # segments the resumed run encodes
    real = pipeline_job._encode_segment
    monkeypatch.setattr(pipeline_job, "_encode_segment", lambda segment, *a: (encoded.append(segment.index), real(segment, *a)))
    assert main([*args(source, output, model), "--resume"]) == 0
    total = FRAMES // SEGMENT
    assert not finished & set(encoded) and sorted(finished | set(encoded)) == list(range(total))
    err = capsys.readouterr().err
    assert f"resuming: {len(finished)} of {total} segments finished earlier" in err
    assert f"{FRAMES - SEGMENT * len(finished)} upscaled now" in err
    assert not work.exists()

    monkeypatch.undo()
    uninterrupted = tmp_path / "uninterrupted.mkv"
    assert main(args(source, uninterrupted, model)) == 0
    assert len(frame_hashes(output)) == FRAMES
    assert frame_hashes(output) == frame_hashes(uninterrupted)


def test_ctrl_c_stops_cleanly_and_keeps_finished_segments(job, tmp_path, monkeypatch, capsys):
    source, model = job
    output = tmp_path / "out.mkv"
    work = tmp_path / ".out.mkv.vsvsr"
    real_finish = WorkDir.finish
    handler = signal.getsignal(signal.SIGINT)  # Python's own, unless an earlier test's library changed it

    def finish_then_ctrl_c(self, segment):  # Ctrl-C while the next segment is being encoded
        real_finish(self, segment)
        if segment.index == 1:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(WorkDir, "finish", finish_then_ctrl_c)
    assert main(args(source, output, model)) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"vsvsr upscale: interrupted; 2 finished segment(s) kept in {work}: run the same command with --resume to continue"
    assert not output.exists()
    assert sorted(p.name for p in work.iterdir()) == ["segment00000.nut", "segment00001.nut", "state.json"]
    assert processes_using(work) == []  # no ffmpeg left running
    assert signal.getsignal(signal.SIGINT) is handler  # the job's handler is gone, the one it found is back
