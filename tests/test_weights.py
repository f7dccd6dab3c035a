import json
import re
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import vsvsr.models as models
from vsvsr import weights
from vsvsr.weights import ModelDescriptor, WeightsError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def small():
    torch.manual_seed(0)
    return models.build("lite", num_blocks=2)


def rewrite_descriptor(path, **changes):
    meta = json.loads(weights.read_descriptor(path).to_json())
    meta.update(changes)
    save_file(load_file(str(path)), str(path), metadata={"descriptor": json.dumps(meta)})


@pytest.mark.parametrize("name", ["rrdb", "residual", "lite"])
def test_round_trip_is_bit_exact(tmp_path, name):
    torch.manual_seed(0)
    model = models.build(name)
    path = weights.save(model, tmp_path / f"{name}.safetensors")
    loaded = weights.load(path)
    assert loaded.descriptor.arch == name and loaded.descriptor.trained is False
    for (k, a), (k2, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert k == k2 and torch.equal(a, b)
    x = torch.rand(1, 3, 3, 6, 7)
    with torch.no_grad():
        assert torch.equal(model.eval()(x), loaded(x))


def test_save_with_no_arguments_writes_a_complete_descriptor(tmp_path, small):
    d = weights.read_descriptor(weights.save(small, tmp_path / "m.safetensors"))
    assert d == ModelDescriptor("lite", small.arch_params, window=5, train_tiles=(16, 32, 64))
    assert d.inference_tile == 64 and d.size_multiple == 2
    assert json.loads(d.to_json()).keys() == {
        "format_version", "arch", "arch_params", "scale", "window", "train_tiles", "downsample",
        "train_data", "steps", "metrics", "trained",
    }  # fmt: skip


def test_metadata_travels_and_survives_resave(tmp_path, small):
    manifest = [{"file": "astronaut.png", "sha256": "ab" * 32, "frames": [0, 5]}]
    path = weights.save(small, tmp_path / "a.safetensors", trained=True, steps=1200, window=3,
                        train_tiles=(16, 32), train_data=manifest, metrics={"psnr_y": 33.1})  # fmt: skip
    loaded = weights.load(path)
    d = loaded.descriptor
    assert (d.trained, d.steps, d.window, d.train_tiles, d.metrics) == (True, 1200, 3, (16, 32), {"psnr_y": 33.1})
    assert d.train_data == manifest
    again = weights.read_descriptor(weights.save(loaded, tmp_path / "b.safetensors", steps=1300))
    assert again.steps == 1300 and again.train_data == manifest and again.trained


def test_fp16_file_loads_in_any_precision(tmp_path, small):
    path = weights.save(small, tmp_path / "h.safetensors", dtype=torch.float16)
    assert all(v.dtype == torch.float16 for v in load_file(str(path)).values())
    assert weights.load(path).expand.weight.dtype == torch.float32
    assert weights.load(path, dtype=torch.bfloat16).expand.weight.dtype == torch.bfloat16


def test_save_rejects_unknown_fields_and_foreign_models(tmp_path, small):
    with pytest.raises(TypeError, match="unknown descriptor field"):
        weights.save(small, tmp_path / "x.safetensors", epochs=3)
    with pytest.raises(TypeError, match="vsvsr.models.build"):
        weights.save(torch.nn.Conv2d(3, 3, 3), tmp_path / "x.safetensors")
    with pytest.raises(WeightsError, match="downsample must be one of"):
        weights.save(small, tmp_path / "x.safetensors", downsample="nearest")
    assert not list(tmp_path.iterdir())  # nothing half-written left behind


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"arch": "huge"}, "unknown arch 'huge'"),
        ({"format_version": 99}, "format_version 99 is not supported"),
        ({"scale": 4}, "scale must be 2"),
        ({"arch_params": {"num_layers": 3}}, "arch_params do not build"),
        ({"arch_params": models.arch_params("lite", num_blocks=2, num_feat=32)}, "expand.weight has shape"),
        ({"arch_params": models.arch_params("lite", num_blocks=1)}, "unexpected trunk.1"),
        ({"arch_params": models.arch_params("lite", num_blocks=3)}, "missing trunk.2"),
        ({"colour": "red"}, "unknown descriptor field"),
    ],
)
def test_mismatch_raises_naming_it(tmp_path, small, changes, message):
    path = weights.save(small, tmp_path / "m.safetensors")
    rewrite_descriptor(path, **changes)
    with pytest.raises(WeightsError, match=message):
        weights.load(path)


def test_foreign_and_broken_files(tmp_path):
    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(plain))
    with pytest.raises(WeightsError, match="not a vsvsr weights file"):
        weights.load(plain)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"definitely not safetensors")
    with pytest.raises(WeightsError, match="not a readable safetensors file"):
        weights.load(junk)
    with pytest.raises(WeightsError, match="does not exist"):
        weights.load(tmp_path / "missing.safetensors")


def test_names_without_shipped_weights_say_how_to_get_them(monkeypatch, tmp_path):
    monkeypatch.setattr(weights, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(WeightsError, match="has no shipped weights yet; train them"):
        weights.load("rrdb")
    with pytest.raises(WeightsError, match="unknown model 'huge'.*architectures: rrdb, residual, lite"):
        weights.load("huge")
    for name in models.names():  # the config each message names exists
        with pytest.raises(WeightsError) as raised:
            weights.load(name)
        config = re.search(r"--config (\S+)\)", str(raised.value)).group(1)
        assert (REPO / config).is_file(), config


def test_shipped_names_resolve_to_the_weights_folder(monkeypatch, tmp_path, small):
    monkeypatch.setattr(weights, "WEIGHTS_DIR", tmp_path)
    weights.save(small, tmp_path / "lite.safetensors", trained=True)
    assert weights.shipped() == {"lite": tmp_path / "lite.safetensors"}
    assert weights.load("lite").descriptor.trained
