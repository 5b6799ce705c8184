"""PyTorch's names for dtypes and storages, and the NumPy dtypes they stand for: what a
PyTorch checkpoint's pickle calls ``torch.FloatStorage`` or ``torch.float32`` is a float32
NumPy array here. bfloat16 needs a NumPy dtype library (ml_dtypes, the one JAX uses)."""

from __future__ import annotations

from chainrule.backend import xp
from chainrule.serialization.structure import CheckpointError

# torch's legacy typed storages, as ``torch.save`` names them in its persistent ids.
STORAGE_DTYPES = {
    "DoubleStorage": "float64", "FloatStorage": "float32", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
    "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8",
    "BoolStorage": "bool", "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128",
}  # fmt: skip

# ``torch.<name>`` dtype globals (``torch.float32`` in a pickle) -> NumPy dtype names.
DTYPE_NAMES = {
    "float64": "float64", "double": "float64", "float32": "float32", "float": "float32",
    "float16": "float16", "half": "float16", "bfloat16": "bfloat16", "int64": "int64",
    "long": "int64", "int32": "int32", "int": "int32", "int16": "int16", "short": "int16",
    "int8": "int8", "uint8": "uint8", "uint16": "uint16", "uint32": "uint32",
    "uint64": "uint64", "bool": "bool", "complex64": "complex64", "cfloat": "complex64",
    "complex128": "complex128", "cdouble": "complex128",
}  # fmt: skip

# NumPy dtype name -> the storage torch writes for it; dtypes without a legacy typed storage
# (uint16/32/64) are written as torch does: an UntypedStorage and ``_rebuild_tensor_v3``.
STORAGE_FOR = {dtype: name for name, dtype in STORAGE_DTYPES.items()}
UNTYPED = {"uint16", "uint32", "uint64"}


def numpy_dtype(name: str, what: str) -> xp.dtype:
    """The NumPy dtype called ``name`` (a value of the tables above); bfloat16 through
    ml_dtypes, or a CheckpointError saying how to get it. ``what`` names the file."""
    if name != "bfloat16":
        return xp.dtype(name)
    try:
        import ml_dtypes
    except ImportError:
        raise CheckpointError(
            f"cr.load: {what} holds bfloat16 tensors, and NumPy has no bfloat16 dtype of its "
            "own; install ml_dtypes (pip install ml_dtypes) to read them"
        ) from None
    return xp.dtype(ml_dtypes.bfloat16)


def dtype_name(dtype: xp.dtype) -> str:
    """The name of ``dtype`` in the tables above ("bfloat16" for ml_dtypes' type)."""
    return "bfloat16" if dtype.name == "bfloat16" else xp.dtype(dtype).name
