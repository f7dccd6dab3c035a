"""`vsvsr upscale --workers N` on a local Ray cluster (loopback only): the frames of two workers
are bit for bit those of one at the same threads per segment, across segments that start
mid-scene and a scene cut inside a segment, at x4 (context through both passes), and where the workers seek to keyframes in long-GOP
H.264 (and read far less of the file than decoders from the top); a worker killed mid-segment is
retried; a killed driver's finished segments are reused by --resume; a bad address is one line.

One Ray cluster (2 CPUs, no dashboard) serves the whole module: starting Ray takes seconds."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import ray
import torch
from pipeline_media import frame_hashes, long_gop, tiny_weights

import vsvsr.pipeline.cluster as cluster
from vsvsr import networks
from vsvsr.cli import main
from vsvsr.engine import Engine, Settings
from vsvsr.pipeline import ClusterOptions, EncodeOptions, UpscaleOptions, upscale
from vsvsr.pipeline.segments import plan_segments

SEGMENT = 9  # frames: segments start every 9 frames (0, 9, 18, 27, 36), the scene cut at 25 lies inside one
FRAMES = 40
CPUS = 2  # the test cluster's: each of two workers renders on one torch thread


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cluster")
    model = tiny_weights(folder / "tiny.safetensors")
    source = folder / "in.mkv"  # testsrc2 for 25 frames, then a cut to mandelbrot for 15
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=64x48:r=25:d=1", "-f", "lavfi", "-i",
                    "mandelbrot=s=64x48:r=25,trim=duration=0.6", "-filter_complex", "[0][1]concat=n=2",
                    "-c:v", "ffv1", str(source)], check=True)  # fmt: skip
    one = folder / "one.mkv"
    # One worker at the two workers' thread count (cluster.Workers gives each its share of CPUS): on
    # some CPUs a kernel's rounding depends on its threads (an Intel Xeon with AMX, session 20:
    # oneDNN's Conv3d on a lone tile differs by 1 ulp at 1 and 2 threads), and the bits promised
    # are those of the same threads per segment.
    threads = torch.get_num_threads()
    torch.set_num_threads(CPUS // 2)
    try:
        assert main(args(source, one, model)) == 0
    finally:
        torch.set_num_threads(threads)
    return source, model, frame_hashes(one)


@pytest.fixture(scope="module")
def ray_cluster():
    sigint = signal.getsignal(signal.SIGINT)
    ray.init(num_cpus=CPUS, include_dashboard=False, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()
    # The suite's later tests expect Python's own Ctrl-C handler, which a cluster's run has been
    # seen to leave ignored.
    signal.signal(signal.SIGINT, sigint)


def args(source: Path, output: Path, model: str, *extra: str) -> list[str]:
    return ["upscale", str(source), str(output), "--weights", model, "--scale", "4", "--precision", "fp32",
            "--codec", "ffv1", "--segment-frames", str(SEGMENT), "--quiet", *extra]  # fmt: skip


def encoding_worker(work: Path) -> int | None:
    """The Ray worker whose ffmpeg encodes a segment into `work`."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().decode(errors="replace")
            partial = next((Path(a) for a in text.split("\0") if a.startswith(str(work)) and a.endswith(".partial")), None)
            if partial is not None:  # its encoder runs: the worker is inside a segment
                status = cmdline.with_name("status").read_text()
                return int(status.split("\nPPid:\t")[1].split()[0])
        except (OSError, IndexError, ValueError):
            continue
    return None


def test_two_workers_one_killed_mid_segment_give_the_frames_of_one(job, ray_cluster, tmp_path, capsys):
    source, model, one = job
    output = tmp_path / "killed.mkv"
    work = tmp_path / ".killed.mkv.vsvsr"
    killed = []

    job_done = threading.Event()

    def kill_one_worker() -> None:
        # Until the job ends, however long Ray's workers take to start on a loaded machine.
        while not job_done.is_set() and not killed:
            pid = encoding_worker(work)
            if pid is not None:
                title = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
                os.kill(pid, signal.SIGKILL)
                killed.append(title)
            time.sleep(0.005)

    killer = threading.Thread(target=kill_one_worker)
    killer.start()
    try:
        assert main(args(source, output, model, "--workers", "2")) == 0
    finally:
        job_done.set()
        killer.join()
    assert killed and killed[0].startswith("ray::"), killed  # a Ray worker, in the middle of a segment
    assert len(one) == FRAMES and frame_hashes(output) == one
    assert f"{FRAMES} frames" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == [output.name]  # the work folder is gone


def test_workers_seeking_to_keyframes_give_the_frames_of_one(job, ray_cluster, tmp_path):
    _, model, _ = job
    frames, settings = 192, Settings(scale=2, precision="fp32")
    source = long_gop(tmp_path / "gop.mkv", frames, gop=6, pcm=True)  # B-frames, a keyframe every 6

    def run(workers: int):
        output = tmp_path / f"{workers}.mkv"
        options = UpscaleOptions(source, output, model=model, engine=settings, encode=EncodeOptions("ffv1"),
                                 segment_frames=SEGMENT, cluster=ClusterOptions(workers=workers))  # fmt: skip
        return upscale(options, progress=False), frame_hashes(output)

    _, one = run(1)
    report, two = run(2)
    assert len(one) == frames and two == one
    # From the top, each segment's decoder reads the file at least up to its last frame (the PCM
    # beside the video makes bytes track time); the seeking ones read far less.
    stride = Engine(networks.load(model), settings).clip(frames).stride
    top = sum(s.end for s in plan_segments(frames, stride, SEGMENT)) / frames * source.stat().st_size
    assert report.decoder_read < top / 2, (report.decoder_read, top)


def test_resume_after_the_driver_dies_reuses_its_segments(job, ray_cluster, tmp_path, monkeypatch, capsys):
    source, model, one = job
    output = tmp_path / "out.mkv"
    state = tmp_path / ".out.mkv.vsvsr" / "state.json"
    command = [sys.executable, "-m", "vsvsr", *args(source, output, model, "--workers", "2")]
    driver = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env={**os.environ, "RAY_ADDRESS": ray_cluster})
    finished: set[int] = set()
    while driver.poll() is None and len(finished) < 2:  # the driver ends by itself at worst
        try:
            finished = {int(i) for i in json.loads(state.read_text())["finished"]}
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.01)
    driver.kill()
    assert len(finished) >= 2, driver.communicate()[1]
    driver.communicate()
    finished = {int(i) for i in json.loads(state.read_text())["finished"]}
    total = -(-FRAMES // SEGMENT)
    assert len(finished) < total and not output.exists()

    # The resumed run's workers send their segments back as bytes, as from another machine.
    monkeypatch.setattr(cluster, "_home_node", lambda ray: "another machine")
    assert main([*args(source, output, model, "--workers", "2"), "--resume"]) == 0
    assert f"resuming: {len(finished)} of {total} segments finished earlier" in capsys.readouterr().err
    assert frame_hashes(output) == one


def test_a_bad_ray_address_is_one_line(job, tmp_path, capsys):
    source, model, _ = job
    output = tmp_path / "out.mkv"
    assert main(args(source, output, model, "--workers", "2", "--ray-address", "127.0.0.1:1")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["vsvsr upscale: no Ray cluster answers at 127.0.0.1:1 (Connection refused); start one there "
                   "with 'ray start --head', or correct --ray-address (or RAY_ADDRESS)"]  # fmt: skip
    assert list(tmp_path.iterdir()) == []


def test_workers_on_the_cpu_refuse_a_cuda_device(job, tmp_path, capsys):
    source, model, _ = job
    assert main(args(source, tmp_path / "out.mkv", model, "--workers", "2", "--device", "cuda")) == 2
    assert capsys.readouterr().err.strip() == ("vsvsr upscale: with --workers 2 the workers run on the CPU, not --device "
                                               "cuda; pass --gpus-per-worker 1 to give each a GPU")  # fmt: skip


def test_one_worker_does_not_import_ray():
    code = "import sys, vsvsr.cli, vsvsr.pipeline.job; assert 'ray' not in sys.modules, 'ray imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
