"""Integer weights in a model file are cast to the parameters' dtype on load, as PyTorch's
``load_state_dict`` casts them (``copy_``), so that weights travel between the two."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.models.nielsen import Nielsen
from chainrule.training.classifier_state import load_model, save_model


# ----- integer weights: cast on load, as PyTorch does -----
def test_integer_weights_are_cast_to_the_parameters_dtype_as_in_pytorch(tmp_path):
    """PyTorch's load_state_dict copies an int tensor into a float parameter (``copy_`` casts);
    chainrule keeps that on purpose so weights travel between the two (see ``load_weights``)."""
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.safetensors"
    save_model(str(path), Nielsen([64, 30, 10]), {"model": "nielsen", "data": "digits",
               "input_shape": [1, 8, 8], "num_classes": 10, "flatten": True}, 1)  # fmt: skip
    tensors, meta = cr.load(path, with_metadata=True)
    ints = {
        k: np.arange(v.numel(), dtype=np.int32).reshape(v.shape) % 7 for k, v in tensors.items()
    }
    cr.save(ints, path, meta)
    model, _, _ = load_model(str(path))
    # The same file into PyTorch float32 parameters of the same names and shapes.
    reference = torch.nn.Module()
    for k, v in ints.items():
        reference.register_parameter(k.replace(".", "_"), torch.nn.Parameter(torch.zeros(v.shape)))
    reference.load_state_dict({k.replace(".", "_"): torch.from_numpy(v) for k, v in ints.items()})
    for name, value in model.state_dict().items():
        theirs = getattr(reference, name.replace(".", "_"))
        assert value.dtype == np.float32 and theirs.dtype == torch.float32
        np.testing.assert_array_equal(value.numpy(), ints[name])
        np.testing.assert_array_equal(theirs.detach().numpy(), value.numpy())
