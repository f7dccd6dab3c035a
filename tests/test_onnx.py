"""Every generator exports to ONNX with dynamic h, w, and onnxruntime reproduces torch."""

import numpy as np
import onnxruntime as ort
import pytest
import torch

import vsvsr.models as models
from conftest import perturb_nonlocal


def export(model: torch.nn.Module, path, dynamo: bool) -> None:
    example = torch.rand(1, 3, 3, 16, 18)
    if dynamo:
        h, w = torch.export.Dim("h", min=4, max=4096), torch.export.Dim("w", min=4, max=4096)
        torch.onnx.export(model, (example,), str(path), dynamo=True, dynamic_shapes=({3: h, 4: w},),
                          input_names=["frames"], output_names=["upscaled"])  # fmt: skip
    else:
        torch.onnx.export(model, (example,), str(path), dynamo=False, input_names=["frames"],
                          output_names=["upscaled"], dynamic_axes={"frames": {3: "h", 4: "w"}})  # fmt: skip


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize(
    "name, dynamo",
    [("rrdb", False), ("residual", False), ("lite", False), ("lite", True)],
    ids=["rrdb-torchscript", "residual-torchscript", "lite-torchscript", "lite-dynamo"],
)
def test_onnx_export_matches_torch(tmp_path, name, dynamo):
    torch.manual_seed(0)
    model = perturb_nonlocal(models.build(name)).eval()
    path = tmp_path / f"{name}.onnx"
    export(model, path, dynamo)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for shape in [(1, 3, 3, 16, 18), (1, 3, 3, 23, 31)]:  # the traced size and another, odd one
        x = torch.rand(shape)
        with torch.no_grad():
            expected = model(x).numpy()
        (got,) = session.run(None, {"frames": x.numpy()})
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() < 1e-4
