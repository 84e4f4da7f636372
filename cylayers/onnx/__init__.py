"""Export cylayers models to ONNX (``torch.onnx.export``'s signature), to run in ONNX Runtime.

    cylayers.onnx.export(model, torch.randn(1, 1, 8, 8), "model.onnx",
                         input_names=["image"], output_names=["logits"],
                         dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})

The model runs one forward pass in eval mode while every op it executes is recorded; each op
maps to ONNX nodes (cylayers/onnx/ops.py), parameters and buffers become initializers named as
in the state_dict, and the graph is checked with ``onnx.checker.check_model(full_check=True)``.
The default opset is 22, where LayerNormalization, GroupNormalization (per-channel scale, from
opset 21), Gelu and Mish are native operators. Needs the ``onnx`` package
(``pip install cylayers[onnx]``).
"""
from cylayers.onnx.export import DEFAULT_OPSET, export
from cylayers.onnx.graph import OnnxExportError, TracerWarning

__all__ = ["export", "OnnxExportError", "TracerWarning", "DEFAULT_OPSET"]
