"""vsvsr serve's JSON API through FastAPI's TestClient, with a tiny fresh model: jobs give the
bits `vsvsr upscale` gives, images come back as images, previews and per-frame PSNR are right,
every bad upload is one line and leaves nothing, results expire and survive a restart."""

import io
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image
from pipeline_media import frame_hashes, make_input, packet_hashes, tiny_weights

from vsvsr import weights
from vsvsr.cli import main
from vsvsr.resize import quantize8, upsample
from vsvsr.serve import ServeOptions, create_app
from vsvsr.serve.jobs import ID_PATTERN, JobQueue


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("media")
    made = {
        "tiny": Path(tiny_weights(folder / "tiny.safetensors")),
        "video": make_input(folder / "clip.mkv", seconds=0.5, audio=False, subtitles=False),
        "interlaced": make_input(folder / "interlaced.mkv", seconds=0.3, audio=False, subtitles=False,
                                 video_args=("-vf", "setfield=tff", "-flags", "+ildct+ilme")),  # fmt: skip
        "png": folder / "photo.png", "hr": folder / "hr.mkv", "lr": folder / "lr.mkv", "text": folder / "notes.txt",
        "audio": folder / "tone.mka",
    }  # fmt: skip
    ffmpeg = ["ffmpeg", "-v", "error", "-y"]
    subprocess.run([*ffmpeg, "-f", "lavfi", "-i", "testsrc2=s=40x32", "-frames:v", "1", str(made["png"])], check=True)
    subprocess.run([*ffmpeg, "-f", "lavfi", "-i", "testsrc2=s=128x96:r=25:d=0.24", "-pix_fmt", "rgb24", "-c:v", "ffv1",
                    str(made["hr"])], check=True)  # fmt: skip
    subprocess.run([*ffmpeg, "-i", str(made["hr"]), "-vf", "scale=64:48:flags=bicubic", "-pix_fmt", "yuv444p", "-c:v", "ffv1",
                    str(made["lr"])],
                   check=True)  # fmt: skip
    subprocess.run([*ffmpeg, "-f", "lavfi", "-i", "sine=duration=0.3", str(made["audio"])], check=True)
    made["text"].write_text("not a video\n")
    return made


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def client(files, cache):
    options = ServeOptions(cache=cache, models={**weights.shipped(), "tiny": files["tiny"]})
    with TestClient(create_app(options)) as client:
        yield client


def upload(client: TestClient, path: Path, original: Path | None = None, **fields: str):
    parts = {"file": (path.name, path.read_bytes())}
    if original is not None:
        parts["original"] = (original.name, original.read_bytes())
    return client.post("/api/jobs", files=parts, data={"model": "tiny", "scale": "2", **fields})


def finished(client: TestClient, path: Path, **kwargs: object) -> dict:
    answer = upload(client, path, **kwargs)
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["id"]
    deadline = time.monotonic() + 120
    while (status := client.get(f"/api/jobs/{job_id}").json())["state"] in ("queued", "running"):
        assert time.monotonic() < deadline, status
        time.sleep(0.1)
    return status


def job_folders(cache: Path) -> set[str]:
    return {p.name for p in cache.iterdir() if ID_PATTERN.fullmatch(p.name)}


def test_models_are_the_shipped_ones_and_the_given_weights(client):
    offered = client.get("/api/models").json()
    names = [m["name"] for m in offered["models"]]
    assert names == [*weights.shipped(), "tiny"] and offered["default"] == weights.DEFAULT_MODEL
    assert offered["scales"] == [2, 4] and "context" in offered["modes"]
    assert next(m for m in offered["models"] if m["name"] == "tiny")["trained"] is False


def test_a_video_job_gives_the_bits_vsvsr_upscale_gives(client, files, tmp_path):
    status = finished(client, files["video"])
    assert status["state"] == "done" and status["error"] is None and status["progress"] == 1
    assert status["frames_done"] == status["frames_total"] == 12 and status["fps"] > 0
    result = client.get(f"/api/jobs/{status['id']}/result")
    assert result.status_code == 200 and 'filename="clip_x2.mkv"' in result.headers["content-disposition"]
    served = tmp_path / "served.mkv"
    served.write_bytes(result.content)

    cli = tmp_path / "cli.mkv"
    assert main(["upscale", str(files["video"]), str(cli), "--weights", str(files["tiny"]), "--quiet"]) == 0
    assert packet_hashes(served, "v") == packet_hashes(cli, "v")  # the same encoded bits
    assert len(frame_hashes(served)) == 12


def test_an_image_comes_back_as_an_image_and_previews_crop_both_sides(client, files, tmp_path):
    status = finished(client, files["png"])
    assert status["state"] == "done" and status["image"] and status["frames_total"] == 1
    result = client.get(f"/api/jobs/{status['id']}/result")
    assert 'filename="photo_x2.png"' in result.headers["content-disposition"]
    output = np.asarray(Image.open(io.BytesIO(result.content)))
    assert output.shape == (64, 80, 3)

    cli = tmp_path / "cli.png"
    assert main(["upscale", str(files["png"]), str(cli), "--weights", str(files["tiny"]), "--codec", "png",
                 "--pix-fmt", "rgb24", "--quiet"]) == 0  # fmt: skip
    assert np.array_equal(np.asarray(Image.open(cli)), output)

    whole = np.asarray(Image.open(io.BytesIO(client.get(f"/api/jobs/{status['id']}/preview?frame=0").content)))
    lr = torch.from_numpy(np.asarray(Image.open(files["png"])).copy()).permute(2, 0, 1) / 255
    bicubic = (quantize8(upsample(lr, 2)) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    assert np.array_equal(whole, np.concatenate([bicubic, output], axis=1))  # bicubic | output
    crop = client.get(f"/api/jobs/{status['id']}/preview", params={"frame": 0, "x": 10, "y": 20, "w": 30, "h": 16})
    assert crop.headers["content-type"] == "image/png"
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(crop.content))), whole[20:36, np.r_[10:40, 90:120]])


def test_with_the_original_each_frame_gets_its_psnr(client, files, cache):
    status = finished(client, files["lr"], original=files["hr"])
    assert status["state"] == "done", status
    rows = status["psnr"]
    assert len(rows) == status["frames_total"] == 6
    assert all(15 < r["bicubic"] < 60 and 5 < r["output"] < 60 for r in rows)

    wrong = finished(client, files["lr"], original=files["lr"])
    assert wrong["state"] == "failed" and wrong["error"].startswith("the original must be 128x96 (the upload's size times 2), not 64x48")
    assert wrong["id"] not in job_folders(cache)


BAD_UPLOADS = [
    # (file, form fields, status, the message's start)
    ("text", {}, 400, "the file must be a video or an image that ffmpeg reads (cannot read notes.txt: Invalid data"),
    ("audio", {}, 400, "the file must be a video or an image that ffmpeg reads (tone.mka has no video stream)"),
    ("video", {"scale": "3"}, 400, "scale must be 2 or 4, not '3'"),
    ("video", {"model": "huge"}, 400, "model must be one of "),
    ("video", {"mode": "slow"}, 400, "mode must be one of context, fast, centre, not 'slow'"),
]


@pytest.mark.parametrize("name, fields, code, message", BAD_UPLOADS, ids=[f"{b[0]}-{b[3][:12]}" for b in BAD_UPLOADS])
def test_bad_uploads_are_one_line_and_leave_nothing(client, files, cache, name, fields, code, message):
    before = job_folders(cache)
    answer = upload(client, files[name], **fields)
    assert answer.status_code == code
    error = answer.json()["error"]
    assert error.startswith(message) and "\n" not in error and "; " in error  # the fix follows
    assert job_folders(cache) == before


def test_a_request_without_a_file_is_refused(client):
    answer = client.post("/api/jobs", data={"model": "tiny"}, files={"other": ("x", b"1")})
    assert answer.status_code == 400 and answer.json()["error"].startswith("the upload must have a file field")


def test_uploads_over_the_limit_are_refused_before_and_while_reading(files, tmp_path):
    options = ServeOptions(cache=tmp_path, max_upload_mb=0.01, models={"tiny": files["tiny"]})
    big = tmp_path / "big.mkv"
    big.write_bytes(b"\0" * 200_000)
    with TestClient(create_app(options)) as client:
        answer = upload(client, big)
        assert answer.status_code == 413
        assert answer.json()["error"].startswith("the upload must be at most 0.01 MB, not 0.2 MB")
        # No Content-Length (a chunked upload): counted while copying.
        body = b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.mkv\"\r\n\r\n" + b"\0" * 20_000 + b"\r\n--b--\r\n"
        chunked = client.post("/api/jobs", content=iter([body]), headers={"content-type": "multipart/form-data; boundary=b"})
        assert chunked.status_code == 413
    assert job_folders(tmp_path) == set()


def test_a_job_the_pipeline_refuses_fails_with_the_reason_and_leaves_nothing(client, files, cache):
    status = finished(client, files["interlaced"])
    assert status["state"] == "failed"
    assert status["error"].startswith("interlaced.mkv is interlaced") and "--vf-pre bwdif" in status["error"]
    assert str(cache) not in status["error"] and status["id"] not in job_folders(cache)
    assert client.get(f"/api/jobs/{status['id']}/result").status_code == 409


def test_previews_and_jobs_check_what_they_are_asked(client, files):
    status = finished(client, files["png"])
    for query, name in (("frame=1", "frame"), ("frame=-1", "frame"), ("frame=0&w=0", "w"), ("frame=0&x=80", "x")):
        answer = client.get(f"/api/jobs/{status['id']}/preview?{query}")
        assert answer.status_code == 400 and answer.json()["error"].startswith(f"{name} must be a whole number from")
    assert client.get("/api/jobs/0123456789abcdef0123456789abcdef").status_code == 404
    assert client.get("/api/jobs/..%2F..%2Fetc").status_code == 404
    assert client.get("/static/..%2Fapp.py").status_code == 404


def test_results_expire_after_keep_hours_and_survive_a_restart(files, tmp_path):
    options = ServeOptions(cache=tmp_path, keep_hours=1, models={"tiny": files["tiny"]})
    with TestClient(create_app(options)) as client:
        done = finished(client, files["png"])["id"]
        with pytest.raises(ValueError, match="must belong to one server and another vsvsr serve uses it"):
            JobQueue(options).start()
    with TestClient(create_app(options)) as client:  # a restart reloads finished jobs
        assert client.get(f"/api/jobs/{done}").json()["state"] == "done"
        assert client.get(f"/api/jobs/{done}/result").status_code == 200
        jobs = client.app.state.jobs
        assert jobs.expire(now=time.time() + 1800) == []
        assert jobs.expire(now=time.time() + 3601) == [done]
        assert client.get(f"/api/jobs/{done}").status_code == 404
    assert job_folders(tmp_path) == set()


def test_serve_binds_loopback_and_warns_without_authentication_elsewhere(files, tmp_path, capsys, monkeypatch):
    import uvicorn

    ran = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: ran.append(kw))
    assert main(["serve", "--cache", str(tmp_path), "--weights", str(files["tiny"])]) == 0
    assert ran[-1]["host"] == "127.0.0.1" and ran[-1]["port"] == 8000
    assert "warning" not in capsys.readouterr().err
    assert main(["serve", "--host", "0.0.0.0", "--cache", str(tmp_path)]) == 0
    assert ran[-1]["host"] == "0.0.0.0"
    assert "warning: listening on 0.0.0.0: there is no authentication" in capsys.readouterr().err
    assert main(["serve", "--workers", "0", "--cache", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vsvsr serve: --workers must be at least 1, not 0") and len(err.splitlines()) == 1
