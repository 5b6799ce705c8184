"""``torch.autocast`` / ``torch.amp.autocast`` on chainrule's CPU: mixed precision as PyTorch's
CPU autocast does it. Inside ``with autocast("cpu"):`` (bfloat16 by default, or float16) the ops
of PyTorch's CPU lower-precision list that chainrule has (matmul, mm, bmm, ``@``, linear, conv1d,
conv2d, conv_transpose2d, einsum, and so the attention products) cast their float operands to
that dtype and return it; the losses (mse, l1, smooth_l1, cross_entropy, nll, kl_div, binary
cross-entropy with and without logits) run in float32; every other op keeps its operands'
dtype. See ``chainrule.autograd.autocast`` for the casts.

``autocast("cuda")`` is accepted and disabled with PyTorch's warning, as on a machine without
CUDA; any other device type is an error.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

from chainrule import backend
from chainrule.autograd.tensor import Tensor
from chainrule.backend import xp

__all__ = [
    "autocast", "custom_bwd", "custom_fwd", "get_autocast_dtype", "is_autocast_available",
    "is_autocast_enabled",
]  # fmt: skip

_SUPPORTED = (backend.bfloat16, xp.dtype(xp.float16))
_default_dtype = {"cpu": backend.bfloat16, "cuda": xp.dtype(xp.float16)}


def is_autocast_available(device_type: str) -> bool:
    """Whether ``autocast(device_type)`` can be entered: "cpu" and "cuda" (the latter then
    disables itself, as PyTorch without CUDA)."""
    return device_type in ("cpu", "cuda")


def is_autocast_enabled(device_type: str = "cuda") -> bool:
    """Whether autocast is on for ``device_type`` (PyTorch's default asks about "cuda", which
    is never on here)."""
    return device_type == "cpu" and backend.autocast_dtype is not None


def get_autocast_dtype(device_type: str) -> xp.dtype:
    """The dtype ``autocast(device_type)`` uses when none is given: bfloat16 on the CPU."""
    return _default_dtype[device_type]


class autocast:
    """Runs the ops in its block (or the decorated function) in mixed precision.

    Args:
        device_type: "cpu" (or "cuda": warned about and disabled, there being no GPU).
        dtype: the lower precision, ``cr.bfloat16`` (the default) or ``cr.float16``; another
            dtype warns and disables autocast, as PyTorch does.
        enabled: False makes the block run in full precision (also inside another autocast).
        cache_enabled: accepted; chainrule keeps no cache of cast weights.
    """

    def __init__(
        self,
        device_type: str,
        dtype: Any = None,
        enabled: bool = True,
        cache_enabled: bool | None = None,
    ) -> None:
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        if not is_autocast_available(device_type):
            raise RuntimeError(
                f"autocast: unsupported device_type {device_type!r}; chainrule computes on "
                "'cpu' ('cuda' is accepted and disabled, as PyTorch without CUDA)"
            )
        self.device = device_type
        self.fast_dtype = _default_dtype[device_type] if dtype is None else xp.dtype(dtype)
        if enabled and device_type == "cuda":
            warnings.warn(
                "CUDA is not available or torch_xla is imported. Disabling autocast.",
                UserWarning,
                stacklevel=2,
            )
            enabled = False
        elif enabled and self.fast_dtype not in _SUPPORTED:
            warnings.warn(
                "In CPU autocast, but the target dtype is not supported. Disabling autocast.\n"
                "CPU Autocast only supports dtypes of bfloat16, float16 currently.",
                UserWarning,
                stacklevel=2,
            )
            enabled = False
        self._enabled = bool(enabled)
        self._prev: list[xp.dtype | None] = []

    def __enter__(self) -> autocast:
        self._prev.append(backend.autocast_dtype)
        if self.device == "cpu":
            backend.autocast_dtype = self.fast_dtype if self._enabled else None
        return self

    def __exit__(self, *exc: Any) -> None:
        backend.autocast_dtype = self._prev.pop()

    def __call__(self, func: Callable) -> Callable:
        if not callable(func):
            raise TypeError(
                f"autocast()(func) requires a callable, but got {type(func).__name__}. Did you "
                "mean to use autocast as a context manager? with autocast(device_type=...): ..."
            )

        @functools.wraps(func)
        def decorated(*args: Any, **kwargs: Any) -> Any:
            with self:
                return func(*args, **kwargs)

        return decorated


def _cast(value: Any, dtype: xp.dtype) -> Any:
    """``value`` with its float Tensors (float64 excepted) cast to ``dtype``, through lists,
    tuples and dicts, as PyTorch's ``torch.amp.autocast_mode._cast``."""
    if isinstance(value, Tensor):
        eligible = backend.kind(value.dtype) == "f" and value.dtype != xp.float64
        return value.astype(dtype) if eligible else value
    if isinstance(value, dict):
        return {k: _cast(v, dtype) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast(v, dtype) for v in value)
    return value


def custom_fwd(fwd: Callable | None = None, *, device_type: str, cast_inputs: Any = None):
    """Decorates an ``autograd.Function``'s ``forward``: with ``cast_inputs`` and autocast on,
    the forward runs with autocast off on inputs cast to ``cast_inputs``; without it, the
    forward runs as it is and ``custom_bwd`` gives the backward the same autocast state."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def decorate_fwd(ctx: Any, *args: Any, **kwargs: Any) -> Any:
        ctx._dtype = get_autocast_dtype(device_type)
        on = is_autocast_enabled(device_type)
        ctx._fwd_used_autocast = on and cast_inputs is None
        if cast_inputs is None or not on:
            return fwd(ctx, *args, **kwargs)
        dt = xp.dtype(cast_inputs)
        with autocast(device_type=device_type, enabled=False):
            return fwd(ctx, *_cast(args, dt), **_cast(kwargs, dt))

    return decorate_fwd


def custom_bwd(bwd: Callable | None = None, *, device_type: str):
    """Decorates an ``autograd.Function``'s ``backward`` to run under the autocast state its
    forward (decorated by ``custom_fwd``) ran in."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorate_bwd(ctx: Any, *args: Any, **kwargs: Any) -> Any:
        with autocast(device_type, enabled=ctx._fwd_used_autocast, dtype=ctx._dtype):
            return bwd(ctx, *args, **kwargs)

    return decorate_bwd
