import subprocess
import sys

import pytest
import torch

import vsvsr.models as models


def perturb_nonlocal(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """A fresh generator mixes nothing across time through its non-local block (zero-initialised
    projection); give the projection weights so temporal behaviour is actually exercised."""
    gen = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, models.NonLocalBlock3d):
            with torch.no_grad():
                module.project.weight.copy_(torch.randn(module.project.weight.shape, generator=gen) * 0.1)
    return model


@pytest.fixture
def lite() -> torch.nn.Module:
    torch.manual_seed(0)
    return perturb_nonlocal(models.build("lite")).eval()


@pytest.fixture(scope="session", autouse=True)
def vapoursynth_config(tmp_path_factory):
    """vspipe needs a VapourSynth config naming this Python; give the session its own, so tests
    neither depend on nor touch the user's ~/.config."""
    home = tmp_path_factory.mktemp("xdg-config")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CONFIG_HOME", str(home))
        subprocess.run([sys.executable, "-m", "vapoursynth", "config"], check=True, capture_output=True)
        yield home
