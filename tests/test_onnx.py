"""Every generator exports to ONNX with dynamic h, w, and onnxruntime reproduces torch. With the
TorchScript exporter, as vsvsr.onnx_export does; the dynamo exporter took 18 s for lite alone."""

import numpy as np
import onnxruntime as ort
import pytest
import torch

import vsvsr.models as models
from conftest import perturb_nonlocal


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("name", ["rrdb", "residual", "lite"])
def test_onnx_export_matches_torch(tmp_path, name):
    torch.manual_seed(0)
    # Two trunk blocks hold every op the full depth does (37 RRDBs take seconds to trace).
    model = perturb_nonlocal(models.build(name, num_blocks=2)).eval()
    path = tmp_path / f"{name}.onnx"
    torch.onnx.export(model, (torch.rand(1, 3, 3, 16, 18),), str(path), dynamo=False, input_names=["frames"],
                      output_names=["upscaled"], dynamic_axes={"frames": {3: "h", 4: "w"}})  # fmt: skip
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for shape in [(1, 3, 3, 16, 18), (1, 3, 3, 23, 31)]:  # the traced size and another, odd one
        x = torch.rand(shape)
        with torch.no_grad():
            expected = model(x).numpy()
        (got,) = session.run(None, {"frames": x.numpy()})
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() < 1e-4
