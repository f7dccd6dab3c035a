"""Every generator exports to ONNX through vsvsr.onnx_export (the TorchScript exporter) with
dynamic h, w, and onnxruntime reproduces torch."""

import numpy as np
import onnxruntime as ort
import pytest
import torch

import vsvsr.models as models
from conftest import perturb_nonlocal
from vsvsr.onnx_export import export_onnx


@pytest.mark.parametrize("name, extra", [("rrdb", {}), ("residual", {}), ("lite", {}),
                                         ("lite", {"neighbour_reach": 1, "reach_match": 0.0, "reach_miss": 0.1})])  # fmt: skip
def test_onnx_export_matches_torch(tmp_path, name, extra):
    torch.manual_seed(0)
    # Two trunk blocks hold every op the full depth does (37 RRDBs take seconds to trace). The
    # gated lite's levels are low, so random frames give gates between 0 and 1, not all closed.
    model = perturb_nonlocal(models.build(name, num_blocks=2, **extra)).eval()
    path = export_onnx(model, 3, tmp_path / f"{name}.onnx", produced=range(3), clamp=False)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for h, w in [(32, 32), (23, 31)]:  # the traced size and another, odd one
        x = torch.rand(1, 3, 3, h, w)
        with torch.no_grad():
            expected = model(x).reshape(1, 9, 2 * h, 2 * w).numpy()
        (got,) = session.run(None, {"frames": x.reshape(1, 9, h, w).numpy()})
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() < 1e-4
