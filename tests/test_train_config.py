"""Training configs: typed, unknown keys and wrong types are errors naming the key's path,
--set overrides are parsed as YAML, and every shipped config loads."""

import dataclasses
from pathlib import Path

import pytest
import yaml

from training.config import Config, ConfigError, apply_override, from_dict, load_config, to_dict
from training.data.degradations import GaussianBlur
from training.trainer import trained_tiles

CONFIGS = Path(__file__).resolve().parents[1] / "training" / "configs"
MINIMAL = {"output_dir": "out/x", "phases": [{"name": "pixel", "steps": 10, "losses": {"charbonnier": 1.0}}]}


def write(tmp_path: Path, raw: dict) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize("name", sorted(p.name for p in CONFIGS.glob("*.yaml")))
def test_every_shipped_config_loads_and_round_trips(name):
    config = load_config(CONFIGS / name)
    assert isinstance(config, Config) and config.total_steps > 0
    assert from_dict(to_dict(config)) == config


def test_shipped_configs_cover_the_issue():
    assert {"smoke.yaml", "lite_cpu.yaml", "residual.yaml", "rrdb.yaml"} <= {p.name for p in CONFIGS.glob("*.yaml")}
    lite = load_config(CONFIGS / "lite_cpu.yaml")
    # The final x2 stage trains on the inference tile, and a perceptual/adversarial phase follows
    # the pixel/edge one.
    assert lite.cascade.x2[-1] == 64 and lite.generator.arch == "lite"
    assert lite.phases[0].losses.adversarial == 0 and lite.phases[-1].losses.adversarial > 0


def test_defaults_fill_missing_sections(tmp_path):
    config = load_config(write(tmp_path, MINIMAL))
    assert config.generator.arch == "lite" and config.data.window == 5 and config.cascade.x2 == (16, 32)
    assert config.phases[0].losses.charbonnier_eps == 1e-3


@pytest.mark.parametrize(
    "change, message",
    [
        ({"phases": [{"name": "p", "steps": 1, "losses": {"charbonier": 1.0}}]},
         r"phases\[0\]\.losses\.charbonier: unknown key"),
        ({"data": {"hr_crop": "big"}}, r"data\.hr_crop must be an integer"),
        ({"data": {"degradations": {"blur": {"p": 2.0}}}}, r"data\.degradations: blur\.p must be a probability"),
        ({"data": {"degradations": {"blurr": {"p": 0.5}}}}, r"data\.degradations\.blurr: unknown key"),
        ({"cascade": {"x2": [24]}}, r"cascade\.x2: patch side 24 must divide the LR crop"),
        ({"generator": {"arch": "huge"}}, r"generator: arch must be one of"),
        ({"generator": {"params": {"num_blockz": 1}}}, r"generator: params: .*num_blockz"),
        ({"train": {"betas": [0.9]}}, r"train\.betas must be a list of 2 values"),
        ({"data": {"sources": [{"kind": "reds"}]}}, r"path is required"),
        ({"surprise": 1}, r"surprise: unknown key"),
        ({"data": {"window": 1}, "phases": [{"name": "p", "steps": 1, "losses": {"charbonnier": 1.0, "temporal": 0.5}}]},
         r"phases\[p\]\.losses\.temporal compares frames of a window: set data\.window to 2 or more"),
    ],
)
def test_mistakes_name_the_key(tmp_path, change, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, MINIMAL | change))


def test_missing_required_keys(tmp_path):
    with pytest.raises(ConfigError, match="missing required key.*phases"):
        load_config(write(tmp_path, {"output_dir": "x"}))


def test_overrides_are_typed_yaml(tmp_path):
    config = load_config(
        write(tmp_path, MINIMAL),
        ["output_dir=out/elsewhere", "data.hr_crop=192", "cascade.x2=[16,48]", "phases.0.lr_g=1e-4",
         "train.betas=[0.5, 0.9]", "data.degradations.blur.p=0.5", "phases.0.losses.sobel=0.1"],
    )  # fmt: skip
    assert config.output_dir == "out/elsewhere"
    assert config.data.hr_crop == 192 and config.cascade.x2 == (16, 48)
    assert config.phases[0].lr_g == 1e-4  # YAML 1.1 reads "1e-4" as a string; a float key takes it
    assert config.train.betas == (0.5, 0.9)
    assert config.data.degradations.blur == GaussianBlur(p=0.5)
    assert config.phases[0].losses.sobel == 0.1


def test_override_mistakes(tmp_path):
    path = write(tmp_path, MINIMAL)
    with pytest.raises(ConfigError, match="expected key.sub=value"):
        load_config(path, ["output_dir"])
    with pytest.raises(ConfigError, match="not an index of a list of 1"):
        load_config(path, ["phases.3.steps=1"])
    with pytest.raises(ConfigError, match=r"train\.bogus: unknown key"):
        load_config(path, ["train.bogus=1"])


def test_overrides_never_change_the_raw_data():
    raw = {"a": {"b": [1, 2]}}
    changed = apply_override(raw, "a.b.1=5")
    assert raw == {"a": {"b": [1, 2]}} and changed == {"a": {"b": [1, 5]}}


def test_configs_are_frozen_and_phases_resolve(tmp_path):
    config = load_config(write(tmp_path, MINIMAL | {"phases": [
        {"name": "a", "steps": 3, "losses": {"mse": 1.0}},
        {"name": "b", "steps": 2, "losses": {"mse": 1.0, "adversarial": 0.1}, "cascade": {"x2": [64], "x4": []}},
    ]}))  # fmt: skip
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.output_dir = "elsewhere"
    assert [config.phase_at(s)[0].name for s in range(5)] == ["a", "a", "a", "b", "b"]
    assert config.phase_at(4)[1] == 1 and config.phase_ends() == {3, 5}
    assert config.uses_gan and config.uses_x4
    assert config.cascade_of(config.phases[1]).x2 == (64,) and config.cascade_of(config.phases[0]).x2 == (16, 32)
    # What a weights file exported after each phase declares it was trained on.
    assert trained_tiles(config, config.phases[0]) == (16, 32)
    assert trained_tiles(config, config.phases[1]) == (16, 32, 64)
