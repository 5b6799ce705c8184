"""Containers: Sequential (a chain of layers); ModuleList, ModuleDict and ParameterList
(registered collections)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from chainrule.autograd.tensor import Tensor
from chainrule.backend import xp
from chainrule.nn.modules.module import Module, _indent
from chainrule.nn.parameter import Parameter


class Sequential(Module):
    """Applies its modules in order: ``Sequential(a, b, c)(x) == c(b(a(x)))``.

    The children are named "0", "1", ... (or by the keys of an OrderedDict), so parameter names
    are PyTorch's: ``Sequential(Linear(4, 8), ReLU(), Linear(8, 2))`` has ``0.weight``,
    ``0.bias``, ``2.weight``, ``2.bias``.

    Example:
        >>> model = Sequential(Linear(784, 100), ReLU(), Linear(100, 10))
        >>> model(cr.randn(64, 784)).shape
        (64, 10)
    """

    def __init__(self, *args: Module | Mapping[str, Module]) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], Mapping):
            for name, m in args[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(args):
                if not isinstance(m, Module):
                    raise TypeError(
                        f"Sequential: argument {i} is a {type(m).__name__}, not a Module "
                        f"(did you forget to instantiate it, e.g. ReLU() rather than ReLU?)"
                    )
                self.add_module(str(i), m)

    def forward(self, x: Any) -> Any:
        for m in self._modules.values():
            x = m(x)
        return x

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, idx: int | slice) -> Module:
        if isinstance(idx, slice):
            return Sequential(OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[_index(idx, len(self), "Sequential")]

    def __setitem__(self, idx: int, module: Module) -> None:
        key = list(self._modules)[_index(idx, len(self), "Sequential")]
        self.add_module(key, module)

    def __delitem__(self, idx: int | slice) -> None:
        keys = list(self._modules)
        doomed = (
            keys[idx] if isinstance(idx, slice) else [keys[_index(idx, len(self), "Sequential")]]
        )
        for k in doomed:
            del self._modules[k]

    def append(self, module: Module) -> Sequential:
        """Adds ``module`` at the end (named by the next free index). Returns self."""
        self.add_module(str(len(self)), module)
        return self


class ModuleList(Module):
    """A list of modules whose parameters are registered (a plain Python list's are not).

    Children are named "0", "1", ...; it has no ``forward``: index or iterate it in yours.
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __repr__(self) -> str:
        """PyTorch's: a run of children with the same repr is printed once, as
        ``(0-5): 6 x TransformerEncoderLayer(...)``."""
        runs: list[list] = []  # [first index, last index, repr]
        for i, m in enumerate(self):
            r = repr(m)
            if runs and runs[-1][2] == r:
                runs[-1][1] = i
            else:
                runs.append([i, i, r])
        if not runs:
            return "ModuleList()"
        lines = [
            _indent(f"({a}): {r}" if a == b else f"({a}-{b}): {b - a + 1} x {r}")
            for a, b, r in runs
        ]
        return "ModuleList(\n  " + "\n  ".join(lines) + "\n)"

    def __getitem__(self, idx: int | slice) -> Module | ModuleList:
        if isinstance(idx, slice):
            return ModuleList(list(self._modules.values())[idx])
        return self._modules[str(_index(idx, len(self), "ModuleList"))]

    def __setitem__(self, idx: int, module: Module) -> None:
        self.add_module(str(_index(idx, len(self), "ModuleList")), module)

    def __delitem__(self, idx: int | slice) -> None:
        mods = list(self._modules.values())
        del mods[idx]
        self._modules.clear()
        for i, m in enumerate(mods):
            self.add_module(str(i), m)

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def append(self, module: Module) -> ModuleList:
        """Adds ``module`` at the end. Returns self."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Adds each of ``modules`` at the end. Returns self."""
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Inserts ``module`` before position ``index``."""
        mods = list(self._modules.values())
        mods.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(mods):
            self.add_module(str(i), m)


class ModuleDict(Module):
    """A dict of modules whose parameters are registered, named by their keys."""

    def __init__(self, modules: Mapping[str, Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            for k, m in modules.items():
                self.add_module(k, m)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: str) -> bool:
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()


def _index(idx: int, n: int, what: str) -> int:
    if not -n <= idx < n:
        raise IndexError(f"{what}: index {idx} is out of range for {n} modules")
    return idx % n


class ParameterList(Module):
    """A list of Parameters that are registered (a plain Python list's are not).

    The parameters are named "0", "1", ..., as in PyTorch, so ``state_dict()`` keys are
    ``"<name>.0"``, ``"<name>.1"``, ...; a Tensor or NumPy array put in it becomes a Parameter
    (sharing its memory), as PyTorch does with tensors.

    Example:
        >>> ps = ParameterList([Parameter(np.zeros(3)) for _ in range(2)])
        >>> [name for name, _ in ps.named_parameters()]
        ['0', '1']
    """

    def __init__(self, values: Iterable[Any] | None = None) -> None:
        super().__init__()
        if values is not None:
            self.extend(values)

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self._parameters.values())

    def __getitem__(self, idx: int | slice) -> Parameter | ParameterList:
        if isinstance(idx, slice):
            return ParameterList(list(self._parameters.values())[idx])
        return self._parameters[str(_index(idx, len(self), "ParameterList"))]

    def __setitem__(self, idx: int, param: Any) -> None:
        self.register_parameter(str(_index(idx, len(self), "ParameterList")), _as_param(param))

    def __iadd__(self, values: Iterable[Any]) -> ParameterList:
        return self.extend(values)

    def __dir__(self) -> list[str]:
        return [k for k in super().__dir__() if not k.isdigit()]

    def append(self, value: Any) -> ParameterList:
        """Adds ``value`` (a Parameter, Tensor or array) at the end. Returns self."""
        self.register_parameter(str(len(self)), _as_param(value))
        return self

    def extend(self, values: Iterable[Any]) -> ParameterList:
        """Adds each of ``values`` at the end. Returns self."""
        if isinstance(values, (Tensor, xp.ndarray)) or not isinstance(values, Iterable):
            raise TypeError(
                f"ParameterList.extend: expected an iterable of parameters, got "
                f"{type(values).__name__}"
            )
        for v in values:
            self.append(v)
        return self

    def extra_repr(self) -> str:
        # PyTorch's lines start with two spaces (so one parameter prints as
        # "ParameterList(  (0): ...)"); the dtype is chainrule's spelling, float32.
        return "\n".join(
            f"  ({i}): Parameter containing: [{p.dtype} of size {'x'.join(map(str, p.shape))}]"
            for i, p in enumerate(self)
        )


def _as_param(value: Any) -> Parameter:
    if isinstance(value, Parameter):
        return value
    if isinstance(value, (Tensor, xp.ndarray)):
        # PyTorch wraps a plain tensor; it keeps its requires_grad flag only for Parameters.
        return Parameter(value)
    raise TypeError(
        f"ParameterList: expected a Parameter, Tensor or NumPy array, got {type(value).__name__}"
    )
