"""``cr.onnx``: ONNX export of chainrule models, as ``torch.onnx``.

    cr.onnx.export(model, torch_like_args, "model.onnx", input_names=["x"],
                   output_names=["logits"], dynamic_axes={"x": [0], "logits": [0]})

The ``onnx`` package is needed only when exporting (``pip install onnx``).
"""

from chainrule.onnx.export import DynamicAxesError, export
from chainrule.onnx.symbolic import UnsupportedOperatorError
from chainrule.onnx.trace import TracerWarning

__all__ = ["DynamicAxesError", "TracerWarning", "UnsupportedOperatorError", "export"]
