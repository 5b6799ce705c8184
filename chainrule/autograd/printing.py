"""How a Tensor prints, as PyTorch prints it (``torch/_tensor_str.py``'s rules):
``tensor([1.0000, 2.5000])``, ``tensor([[1, 2]])``, ``tensor(3., requires_grad=True)``.

Every element is formatted alike: floats with 4 decimals (``1.0000``), or as integers with a
point (``1.``) when all are whole, or in scientific notation (``1.0000e-05``) when the nonzero
finite values span more than 1000x, exceed 1e8 or go below 1e-4; right-aligned to a common
width; rows wrapped at 80 characters. Above 1000 elements only the first and last 3 of each
dimension are shown, around ``...``. The suffixes follow: the dtype when it is not the default
floating one, int64 or bool (spelt as chainrule spells it, ``dtype=float64``), then the op that
made the tensor (``grad_fn=<...>``, chainrule's op name) or ``requires_grad=True``.
"""

from __future__ import annotations

import math

from chainrule.backend import get_default_dtype, xp

PRINT_OPTIONS = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80}


def tensor_repr(t) -> str:
    """``repr(t)`` (and ``str(t)``), PyTorch's layout with chainrule's dtype and op names."""
    arr = t._data
    prefix = "tensor("
    suffixes = []
    if arr.size == 0:
        if arr.ndim != 1:
            suffixes.append(f"size={tuple(arr.shape)}")
        if arr.dtype != get_default_dtype():
            suffixes.append(f"dtype={arr.dtype}")
        body = "[]"
    else:
        default = (get_default_dtype(), xp.dtype(xp.int64), xp.dtype(xp.bool_), _complex())
        if arr.dtype not in default:
            suffixes.append(f"dtype={arr.dtype}")
        body = array_str(arr, len(prefix))
    if t._node is not None:
        suffixes.append(f"grad_fn=<{t._node.name}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, len(prefix))


def _complex() -> xp.dtype:
    return xp.dtype(xp.complex128 if get_default_dtype() == xp.float64 else xp.complex64)


def array_str(arr: xp.ndarray, indent: int) -> str:
    """The bracketed values of a non-empty ``arr``, continuation lines indented by ``indent``."""
    summarize = arr.size > PRINT_OPTIONS["threshold"]
    shown = _summarized(arr) if summarize else arr
    if arr.dtype.kind == "c":
        fmt = (_Formatter(shown.real), _Formatter(shown.imag))
    else:
        fmt = (_Formatter(shown), None)
    return _nested(arr, indent, summarize, fmt)


class _Formatter:
    """One format for all the values of ``arr`` (the shown ones when summarised): the mode
    (integer, fixed, scientific) and the common width."""

    def __init__(self, arr: xp.ndarray):
        self.floating = arr.dtype.kind == "f" or arr.dtype.kind == "V"  # "V": bfloat16
        self.int_mode, self.sci_mode, self.width = True, False, 1
        values = arr.reshape(-1)
        if not self.floating:
            for v in values.tolist():
                self.width = max(self.width, len(f"{v}"))
            return
        values = values.astype(xp.float64)
        finite = values[xp.isfinite(values) & (values != 0)]
        if finite.size == 0:
            return
        big, small = xp.abs(finite).max(), xp.abs(finite).min()
        self.int_mode = bool(xp.all(finite == xp.ceil(finite)))
        self.sci_mode = bool(big / small > 1000.0 or big > 1.0e8 or small < 1.0e-4)
        p = PRINT_OPTIONS["precision"]
        for v in finite.tolist():
            if self.sci_mode:
                n = len(f"{v:.{p}e}")
            elif self.int_mode:
                n = len(f"{v:.0f}") + 1  # the point that marks a float: "1."
            else:
                n = len(f"{v:.{p}f}")
            self.width = max(self.width, n)

    def format(self, value) -> str:
        p = PRINT_OPTIONS["precision"]
        if not self.floating:
            s = f"{value}"
        elif self.sci_mode:
            s = f"{value:{self.width}.{p}e}"
        elif self.int_mode:
            s = f"{value:.0f}" + ("" if math.isinf(value) or math.isnan(value) else ".")
        else:
            s = f"{value:.{p}f}"
        return (self.width - len(s)) * " " + s


def _value(v, fmt) -> str:
    real, imag = fmt
    if imag is None:
        return real.format(v)
    re, im = real.format(v.real), (imag.format(v.imag) + "j").lstrip()
    return re + im if im[0] in "+-" else re + "+" + im


def _nested(arr: xp.ndarray, indent: int, summarize: bool, fmt) -> str:
    edge = PRINT_OPTIONS["edgeitems"]
    if arr.ndim == 0:
        return _value(arr.tolist() if arr.dtype.kind != "V" else float(arr), fmt)
    if arr.ndim == 1:
        return _vector(arr, indent, summarize, fmt)
    n = arr.shape[0]
    rows = range(n)
    if summarize and n > 2 * edge:
        rows = [*range(edge), None, *range(n - edge, n)]
    parts = ["..." if i is None else _nested(arr[i], indent + 1, summarize, fmt) for i in rows]
    return "[" + ("," + "\n" * (arr.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def _vector(arr: xp.ndarray, indent: int, summarize: bool, fmt) -> str:
    width = fmt[0].width + 2 + (fmt[1].width + 1 if fmt[1] is not None else 0)
    per_line = max(1, math.floor((PRINT_OPTIONS["linewidth"] - indent) / width))
    edge = PRINT_OPTIONS["edgeitems"]

    def items(a):
        return [_value(v, fmt) for v in _python(a)]

    if summarize and arr.shape[0] > 2 * edge:
        data = items(arr[:edge]) + [" ..."] + items(arr[-edge:])
    else:
        data = items(arr)
    lines = [", ".join(data[i : i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _python(a: xp.ndarray) -> list:
    """The values as Python numbers (bfloat16 and other NumPy-extension floats via float64)."""
    return a.astype(xp.float64).tolist() if a.dtype.kind == "V" else a.tolist()


def _summarized(arr: xp.ndarray) -> xp.ndarray:
    """The values a summary shows: the first and last ``edgeitems`` along every dimension."""
    edge = PRINT_OPTIONS["edgeitems"]
    for axis, n in enumerate(arr.shape):
        if n > 2 * edge:
            keep = xp.r_[0:edge, n - edge : n]
            arr = xp.take(arr, keep, axis=axis)
    return arr


def _add_suffixes(text: str, suffixes: list[str], indent: int) -> str:
    """``text`` then each suffix after ", ", on a new line when it would pass the line width."""
    out = [text]
    last = len(text) - text.rfind("\n") + 1  # PyTorch's count (one more than the line's length)
    for s in suffixes:
        if last + len(s) + 2 > PRINT_OPTIONS["linewidth"]:
            out.append(",\n" + " " * indent + s)
            last = indent + len(s)
        else:
            out.append(", " + s)
            last += len(s) + 2
    return "".join(out) + ")"
