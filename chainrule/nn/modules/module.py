"""``Module``: the base class of every layer and model.

A Module owns three kinds of state, each kept in its own ordered dict so that names and order are
those of PyTorch (and a state dict moves between the two):

* parameters (``Parameter``), registered by assigning them to an attribute;
* buffers (plain Tensors such as BatchNorm's running mean), registered with ``register_buffer``;
* sub-modules, registered by assigning them to an attribute.

``state_dict()`` walks them recursively and names each entry by its dotted path
(``"0.weight"``, ``"encoder.fc1.bias"``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

from chainrule import devices as _device
from chainrule.autograd.grad_mode import state
from chainrule.autograd.tensor import Tensor, constant
from chainrule.backend import kind as _kind
from chainrule.backend import xp
from chainrule.nn.parameter import Parameter


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(strict=False)`` could not match, by name."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of layers and models: subclass it, create parameters and sub-modules in
    ``__init__`` (after ``super().__init__()``), and compute the output in ``forward``.

    Example:
        >>> class MLP(Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.fc1 = Linear(4, 8)
        ...         self.fc2 = Linear(8, 2)
        ...     def forward(self, x):
        ...         return self.fc2(self.fc1(x).relu())
        >>> [name for name, _ in MLP().named_parameters()]
        ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']
    """

    training: bool

    def __init__(self) -> None:
        # object.__setattr__: our own __setattr__ needs these dicts to exist already.
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no forward() method")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if state.tracer is not None:  # cr.compile: a replay is valid only in the same mode
            state.tracer.guard(self)
        return self.forward(*args, **kwargs)

    # ----- registration -----
    def __setattr__(self, name: str, value: Any) -> None:
        params = self.__dict__.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError(
                    f"cannot assign parameter {name!r} before {type(self).__name__}.__init__ "
                    "called super().__init__()"
                )
            self._forget(name, "_parameters")
            params[name] = value
            return
        if isinstance(value, Module):
            modules = self.__dict__.get("_modules")
            if modules is None:
                raise AttributeError(
                    f"cannot assign module {name!r} before {type(self).__name__}.__init__ "
                    "called super().__init__()"
                )
            self._forget(name, "_modules")
            modules[name] = value
            return
        if params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as parameter {name!r} of "
                    f"{type(self).__name__} (a Parameter or None is required; to change its "
                    f"values assign to .data)"
                )
            params[name] = None
            return
        buffers = self.__dict__.get("_buffers")
        if buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(
                    f"cannot assign {type(value).__name__} as buffer {name!r} of "
                    f"{type(self).__name__} (a Tensor or None is required)"
                )
            buffers[name] = value
            return
        modules = self.__dict__.get("_modules")
        if modules is not None and name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as child module {name!r} of "
                    f"{type(self).__name__} (a Module or None is required)"
                )
            modules[name] = None
            return
        object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: str) -> None:
        """Removes ``name`` from the stores other than ``keep`` before it is registered in
        ``keep`` (where re-assignment keeps its place in the order, as in PyTorch)."""
        self.__dict__.pop(name, None)
        for key in ("_parameters", "_buffers", "_modules"):
            if key != keep:
                self.__dict__[key].pop(name, None)
        self._non_persistent.discard(name)

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: parameters, buffers and modules live in dicts.
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            store = d.get(key)
            if store is not None and name in store:
                return store[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        for key in ("_parameters", "_buffers", "_modules"):
            store = self.__dict__.get(key)
            if store is not None and name in store:
                del store[name]
                self._non_persistent.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        extra = list(self._parameters) + list(self._buffers) + list(self._modules)
        return sorted(set(super().__dir__()) | set(extra))

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Registers ``param`` (or None, a declared but absent parameter such as a missing bias)."""
        _check_name(self, name)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"register_parameter: {name!r} must be a Parameter or None, "
                f"got {type(param).__name__}"
            )
        self._forget(name, "_parameters")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Registers a Tensor that is state but not learned (e.g. BatchNorm's ``running_mean``).

        Buffers appear in ``state_dict()`` unless ``persistent=False``, follow ``to(dtype)``, and
        are not returned by ``parameters()``.
        """
        _check_name(self, name)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"register_buffer: {name!r} must be a Tensor or None, got {type(tensor).__name__}"
            )
        self._forget(name, "_buffers")
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Registers ``module`` as a child called ``name`` (what attribute assignment does)."""
        _check_name(self, name)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module, got {type(module).__name__}")
        self._forget(name, "_modules")
        self._modules[name] = module

    register_module = add_module

    # ----- traversal -----
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every descendant (each once), with dotted names; this one is ``""``."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, mod = stack.pop()
            if id(mod) in seen:
                continue
            seen.add(id(mod))
            yield name, mod
            children = [
                (f"{name}.{k}" if name else k, m) for k, m in mod._modules.items() if m is not None
            ]
            stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        """This module and every descendant, depth first."""
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct sub-modules with their attribute names."""
        seen: set[int] = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator[Module]:
        """The direct sub-modules."""
        for _, m in self.named_children():
            yield m

    def named_parameters(
        self, prefix: str = "", recurse: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """Every parameter with its dotted name (``"fc1.weight"``); a parameter shared by two
        modules is given once, under its first name."""
        seen: set[int] = set()
        mods = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for mname, mod in mods:
            for pname, p in mod._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mname}.{pname}" if mname else pname), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter, in registration order (what an optimiser is given)."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        """Every buffer with its dotted name (``"bn.running_mean"``)."""
        seen: set[int] = set()
        mods = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for mname, mod in mods:
            for bname, b in mod._buffers.items():
                if b is None or id(b) in seen:
                    continue
                seen.add(id(b))
                yield (f"{mname}.{bname}" if mname else bname), b

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ----- state -----
    def state_dict(
        self, destination: dict | None = None, prefix: str = "", keep_vars: bool = False
    ) -> OrderedDict[str, Tensor]:
        """Parameters and persistent buffers by dotted name, as PyTorch names them.

        The values share memory with the module (as in PyTorch); they are detached Tensors unless
        ``keep_vars=True``, which returns the Parameters themselves.
        """
        out: OrderedDict[str, Tensor] = OrderedDict() if destination is None else destination
        for name, p in self._parameters.items():
            if p is not None:
                out[prefix + name] = p if keep_vars else constant(p._data)
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent:
                out[prefix + name] = b if keep_vars else constant(b._data)
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(out, prefix + name + ".", keep_vars)
        return out

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True
    ) -> IncompatibleKeys:
        """Copies values from ``state_dict`` into this module's parameters and buffers, in place.

        Values may be Tensors, NumPy arrays, or anything ``numpy.asarray`` accepts (a CPU
        ``torch.Tensor`` included); they are converted to each parameter's dtype.

        Args:
            state_dict: name -> value, named as ``state_dict()`` names them.
            strict: when True, a key missing from ``state_dict`` or one this module does not have
                is an error; when False they are returned instead.
        Returns:
            ``IncompatibleKeys(missing_keys, unexpected_keys)``.
        Raises:
            RuntimeError listing, by name, the missing and unexpected keys (when strict) and every
            shape mismatch (always, as in PyTorch).
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"load_state_dict: expected a dict of name -> tensor, got {type(state_dict).__name__}"
            )
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors: list[str] = []
        if strict:
            if unexpected:
                keys = ", ".join(f'"{k}"' for k in unexpected)
                errors.append(f"Unexpected key(s) in state_dict: {keys}.")
            if missing:
                keys = ", ".join(f'"{k}"' for k in missing)
                errors.append(f"Missing key(s) in state_dict: {keys}.")
        arrays: dict[str, xp.ndarray] = {}
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            arr = value._data if isinstance(value, Tensor) else xp.asarray(value)
            if arr.shape != target._data.shape:
                errors.append(
                    f"size mismatch for {key}: copying a param with shape {tuple(arr.shape)} from "
                    f"checkpoint, the shape in current model is {tuple(target._data.shape)}."
                )
                continue
            arrays[key] = arr
        if errors:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                + "\n\t".join(errors)
            )
        # Only after every check passed, so that a failed load leaves the module unchanged.
        for key, arr in arrays.items():
            own[key]._data[...] = arr
        return IncompatibleKeys(missing, unexpected)

    # ----- modes and housekeeping -----
    def train(self, mode: bool = True) -> Module:
        """Puts this module and its descendants in training mode (or evaluation mode when
        ``mode`` is False): Dropout drops, BatchNorm uses batch statistics. Returns self."""
        if not isinstance(mode, bool):
            raise TypeError(f"train: mode must be a bool, got {type(mode).__name__}")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: Dropout is the identity, BatchNorm uses its running statistics."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Sets ``requires_grad`` of every parameter (False freezes them). Returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clears the gradients of every parameter: ``None`` (the default, as PyTorch), or zeros
        when ``set_to_none=False``."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = constant(xp.zeros_like(p._data))

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Calls ``fn`` on every descendant and then on this module (e.g. a custom init)."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def to(self, *args, **kwargs) -> Module:
        """Converts floating-point parameters and buffers (and gradients) to a dtype, in place:
        the Parameter objects stay the same, so an optimiser built earlier still holds them.

        Takes PyTorch's forms (``to(device)``, ``to(dtype)``, ``to(device, dtype)``,
        ``to(tensor)``); the CPU, the only device, changes nothing, so that ``model.to(device)``
        runs unchanged, and any other device is refused with the reason.
        """
        _, dtype = _device.to_args(args, kwargs, where="Module.to")
        if dtype is None:
            return self
        dtype = xp.dtype(dtype)
        if _kind(dtype) != "f":
            raise TypeError(f"to: expected a floating dtype, got {dtype}")
        for m in self.modules():
            for t in list(m._parameters.values()) + list(m._buffers.values()):
                if t is None or _kind(t._data.dtype) != "f":
                    continue
                t._data = t._data.astype(dtype)
                if t.grad is not None:
                    t.grad = constant(t.grad._data.astype(dtype))
        return self

    def cpu(self) -> Module:
        """The module itself: it is already on the CPU."""
        return self

    def cuda(self, *args, **kwargs) -> Module:
        """Refused with the reason: chainrule has no GPU backend."""
        return self.to("cuda")

    def double(self) -> Module:
        """Parameters and buffers in float64."""
        return self.to(xp.float64)

    def float(self) -> Module:
        """Parameters and buffers in float32."""
        return self.to(xp.float32)

    # ----- printing -----
    def extra_repr(self) -> str:
        """The arguments shown between the parentheses of this module's repr; layers override."""
        return ""

    def __repr__(self) -> str:
        """PyTorch's layout: ``Name(extra)`` on one line when there is one line of extra and no
        child, else each extra line and ``(name): child`` indented by two spaces."""
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        children = [f"({name}): {_indent(repr(m))}" for name, m in self._modules.items()]
        head = type(self).__name__ + "("
        if len(lines) == 1 and not children:
            return head + lines[0] + ")"
        if not lines and not children:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines + children) + "\n)"


def _indent(text: str) -> str:
    """``text`` with every line after the first indented by two spaces (PyTorch's _addindent)."""
    return text.replace("\n", "\n  ")


def _check_name(module: Module, name: str) -> None:
    if "_parameters" not in module.__dict__:
        raise AttributeError(
            f"cannot register {name!r} before {type(module).__name__}.__init__ called "
            "super().__init__()"
        )
    if not isinstance(name, str):
        raise TypeError(f"a registered name must be a string, got {type(name).__name__}")
    if "." in name or name == "":
        raise KeyError(f"a registered name must be non-empty and contain no '.', got {name!r}")
    if name in module.__dict__ and name not in ("training",):
        raise KeyError(f"attribute {name!r} already exists on {type(module).__name__}")
