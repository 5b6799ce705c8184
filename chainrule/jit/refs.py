"""The names a recording gives to values, and those a replay gives back to the caller.

A recording never holds the step's arrays themselves: each operand of a recorded entry is a
reference saying where a replay finds it. In the replay's source a ``Slot`` is the local ``s<k>``,
an ``Input`` the parameter ``t<k>``, an ``External`` ``ext[k]._data`` and a ``Constant``
``const[k]``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Slot:
    """The ``k``-th array made during the step (an op's output, a gradient, a random draw)."""

    k: int


@dataclass(frozen=True, slots=True)
class Input:
    """The ``k``-th input of the step, the object itself (a Tensor or an array)."""

    k: int


@dataclass(frozen=True, slots=True)
class External:
    """The ``k``-th tensor from outside the step (a parameter, a buffer, a constant made in the
    step): read through ``.data`` at every replay, so an assignment to it between steps is seen."""

    k: int


@dataclass(frozen=True, slots=True)
class Constant:
    """The ``k``-th constant: a value passed to every replay as it is (an op's setting, a shape,
    the math namespace of the VJPs)."""

    k: int


@dataclass(frozen=True, slots=True)
class Several:
    """A tuple that holds arrays made during the step (an op attribute such as a pair of masks)."""

    refs: tuple[Slot | Input | External | Constant, ...]


Ref = Slot | Input | External | Constant | Several


# What the step returned, with each Tensor or array replaced by where a replay finds it.
@dataclass(frozen=True, slots=True)
class ReturnsTensor:
    """A Tensor made during the step: a replay returns the array of ``slot``, detached."""

    slot: int


@dataclass(frozen=True, slots=True)
class ReturnsArray:
    """An array made during the step: a replay returns the array of ``slot``."""

    slot: int


@dataclass(frozen=True, slots=True)
class ReturnsInput:
    """The step's ``k``-th input, returned as it is."""

    k: int


@dataclass(frozen=True, slots=True)
class ReturnsObject:
    """A Tensor from outside the step (a parameter): the same object every time."""

    obj: object


@dataclass(frozen=True, slots=True)
class ReturnsValue:
    """A Python value (None, a bool, a number or a string)."""

    value: object


Returned = ReturnsTensor | ReturnsArray | ReturnsInput | ReturnsObject | ReturnsValue
