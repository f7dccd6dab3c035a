"""Every model under weights/ is a shipped model: trained, measured, carded, its pixels pinned.

`python -m training ship` writes each one with its card (weights/NAME.md) and its reference
output (tests/reference/NAME.safetensors): a refactor of the model or the engine that changes
what a shipped model outputs fails here.
"""

import torch
from safetensors.torch import load_file

from training import ship
from vsvsr import weights


def test_every_shipped_model_reproduces_its_reference_output():
    for name, path in weights.shipped().items():
        model = weights.load(path)
        d = model.descriptor
        assert d.trained and d.steps > 0 and d.train_data, f"{name}: descriptor incomplete"
        # ship's conditions on the unseen set, or (weights shipped before that set existed) the
        # built-in set's x2/x4 from bicubic and bilinear LR.
        unseen = {ship.condition_key("unseen", scale, "none") for scale in ship.SCALES}
        builtin = {"x2-bicubic", "x4-bicubic", "x2-bilinear", "x4-bilinear"}
        assert unseen <= set(d.metrics) or builtin <= set(d.metrics), f"{name}: metrics missing"
        assert (path.parent / f"{name}.md").is_file(), f"{name}: no model card"
        pinned = load_file(ship.REFERENCE_DIR / f"{name}.safetensors")
        assert torch.equal(pinned["input"], ship.reference_input()), f"{name}: the reference input changed"
        # fp32 on the CPU: differences between CPUs' float sums stay far below one 8-bit level.
        torch.testing.assert_close(ship.reference_output(model), pinned["output"], atol=2e-4, rtol=0)


def test_the_default_model_is_shipped_or_says_how_to_get_one():
    if weights.DEFAULT_MODEL in weights.shipped():
        assert weights.load(weights.DEFAULT_MODEL).descriptor.trained
    else:
        try:
            weights.load(weights.DEFAULT_MODEL)
        except weights.WeightsError as err:
            assert "train" in str(err)
        else:
            raise AssertionError("the default model loaded although no weights ship")
