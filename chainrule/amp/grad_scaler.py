"""``torch.amp.GradScaler``: dynamic loss scaling, as PyTorch's, on the CPU.

The loss is multiplied by a scale S before ``backward()`` so that small float16 gradients do
not flush to zero; before the optimiser's step the gradients are divided by S again
(``unscale_``), and a step whose gradients hold an inf or NaN is skipped. ``update()`` then
halves S after such a step (``backoff_factor``) and doubles it after ``growth_interval``
clean steps in a row (``growth_factor``).

As in PyTorch: ``GradScaler("cpu")`` is enabled and scales; ``GradScaler()`` (device "cuda")
warns that CUDA is not available and is disabled: ``scale`` returns its argument unchanged,
``step`` calls ``optimizer.step()``, ``update`` does nothing and ``state_dict()`` is empty.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

from chainrule.autograd.grad_mode import no_grad
from chainrule.autograd.tensor import Tensor, constant
from chainrule.backend import xp

__all__ = ["GradScaler"]

_READY, _UNSCALED, _STEPPED = "ready", "unscaled", "stepped"
_FIX = "This may indicate your script did not use scaler.scale(loss or outputs) earlier in the iteration."


class GradScaler:
    """Scales losses and unscales gradients (see the module's docstring).

    Args:
        device: "cpu" to scale; "cuda" (PyTorch's default) is disabled with a warning here.
        init_scale: S before the first ``update`` (2**16).
        growth_factor: S is multiplied by it after ``growth_interval`` clean steps (> 1).
        backoff_factor: S is multiplied by it after a step with inf/NaN gradients (< 1).
        growth_interval: the number of clean steps in a row before S grows.
        enabled: False makes every method a pass-through.
    """

    def __init__(
        self,
        device: str = "cuda",
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
        enabled: bool = True,
    ) -> None:
        self._device, self._enabled = device, enabled
        if device == "cuda" and enabled:
            warnings.warn(
                "torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  Disabling.",
                UserWarning,
                stacklevel=2,
            )
            self._enabled = False
        if not self._enabled:
            return
        if growth_factor <= 1.0:
            raise ValueError("GradScaler: the growth factor must be > 1.0.")
        if backoff_factor >= 1.0:
            raise ValueError("GradScaler: the backoff factor must be < 1.0.")
        self._init_scale, self._scale = float(init_scale), None
        self._growth_factor, self._backoff_factor = float(growth_factor), float(backoff_factor)
        self._growth_interval, self._growth_tracker = int(growth_interval), None
        self._init_growth_tracker = 0
        self._states: dict[int, dict[str, Any]] = {}

    def _state(self, optimizer: Any) -> dict[str, Any]:
        return self._states.setdefault(id(optimizer), {"stage": _READY, "found_inf": None})

    def _check(self, funcname: str) -> None:
        if self._scale is None:
            raise RuntimeError(f"Attempted {funcname} but _scale is None.  " + _FIX)

    def scale(self, outputs: Any) -> Any:
        """``outputs * S`` (a Tensor, or each Tensor of a list/tuple); unchanged if disabled."""
        if not self._enabled:
            return outputs
        if self._scale is None:  # float32, as PyTorch's scale tensor
            self._scale = xp.float32(self._init_scale)
            self._growth_tracker = self._init_growth_tracker
        if isinstance(outputs, Tensor):
            return outputs * constant(xp.asarray(self._scale))
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        if isinstance(outputs, Iterable):
            return map(self.scale, outputs)
        raise ValueError("outputs must be a Tensor or an iterable of Tensors")

    def unscale_(self, optimizer: Any) -> None:
        """Divides the gradients of ``optimizer``'s parameters by S, in place, and records
        whether any is inf or NaN. At most once per optimizer between two ``update()``s."""
        if not self._enabled:
            return
        self._check("unscale_")
        state = self._state(optimizer)
        if state["stage"] == _UNSCALED:
            raise RuntimeError(
                "unscale_() has already been called on this optimizer since the last update()."
            )
        if state["stage"] == _STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        inv = constant(xp.asarray(xp.float32(1.0 / xp.float64(self._scale))))
        found, any_grad = False, False
        with no_grad():
            for group in optimizer.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    if p.grad.dtype == xp.float16:
                        raise ValueError("Attempting to unscale FP16 gradients.")
                    any_grad = True
                    p.grad.mul_(inv)
                    found = found or not bool(xp.isfinite(p.grad._data).all())
        state["found_inf"] = float(found) if any_grad else None
        state["stage"] = _UNSCALED

    def step(self, optimizer: Any, *args: Any, **kwargs: Any) -> Any:
        """``optimizer.step()`` on unscaled gradients, skipped (returning None) when any
        gradient is inf or NaN; a plain ``optimizer.step()`` when disabled."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        self._check("step")
        state = self._state(optimizer)
        if state["stage"] == _STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] == _READY:
            self.unscale_(optimizer)
        if state["found_inf"] is None:
            raise RuntimeError("No inf checks were recorded for this optimizer.")
        retval = None if state["found_inf"] else optimizer.step(*args, **kwargs)
        state["stage"] = _STEPPED
        return retval

    def update(self, new_scale: float | Tensor | None = None) -> None:
        """Sets S for the next iteration: ``new_scale`` if given, else S × backoff_factor after
        a skipped step, S × growth_factor after growth_interval clean steps in a row."""
        if not self._enabled:
            return
        self._check("update")
        if new_scale is not None:
            if isinstance(new_scale, Tensor):
                if new_scale.numel() != 1 or new_scale.requires_grad:
                    raise ValueError(
                        "new_scale should be a float or a 1-element FloatTensor with "
                        "requires_grad=False."
                    )
                new_scale = float(new_scale.item())
            self._scale = xp.float32(new_scale)
        else:
            found = [s["found_inf"] for s in self._states.values() if s["found_inf"] is not None]
            if not found:
                raise RuntimeError("No inf checks were recorded prior to update.")
            if sum(found):
                self._scale, self._growth_tracker = (
                    self._scale * xp.float32(self._backoff_factor),
                    0,
                )
            elif self._growth_tracker + 1 == self._growth_interval:
                self._scale, self._growth_tracker = self._scale * xp.float32(self._growth_factor), 0
            else:
                self._growth_tracker += 1
        self._states = {}

    def get_scale(self) -> float:
        """S as a Python float (1.0 when disabled)."""
        if not self._enabled:
            return 1.0
        return self._init_scale if self._scale is None else float(self._scale)

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def set_growth_factor(self, new_factor: float) -> None:
        self._growth_factor = new_factor

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def set_backoff_factor(self, new_factor: float) -> None:
        self._backoff_factor = new_factor

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def set_growth_interval(self, new_interval: int) -> None:
        self._growth_interval = new_interval

    def is_enabled(self) -> bool:
        return self._enabled

    def state_dict(self) -> dict[str, Any]:
        """PyTorch's keys: scale, growth_factor, backoff_factor, growth_interval,
        _growth_tracker; {} when disabled."""
        if not self._enabled:
            return {}
        return {
            "scale": self.get_scale(),
            "growth_factor": self._growth_factor,
            "backoff_factor": self._backoff_factor,
            "growth_interval": self._growth_interval,
            "_growth_tracker": (
                self._init_growth_tracker if self._growth_tracker is None else self._growth_tracker
            ),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restores what ``state_dict`` returned (nothing when disabled)."""
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError(
                "The source state dict is empty, possibly because it was saved from a disabled "
                "instance of GradScaler."
            )
        self._init_scale = float(state_dict["scale"])
        if self._scale is not None:
            self._scale = xp.float32(state_dict["scale"])
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._init_growth_tracker = int(state_dict["_growth_tracker"])
        if self._growth_tracker is not None:
            self._growth_tracker = int(state_dict["_growth_tracker"])
