"""Python ints that a tensor's dtype cannot hold (issue 28): ``cr.tensor(2**70)`` said "cannot make
a tensor of object values" where PyTorch says the value overflows int64. Each case is compared
with the installed torch: the same kind of exception and PyTorch's words in the message, or the
same values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr

BIG = 2**70
CASES = [
    (BIG, None),
    ([1, BIG], None),
    ((1, BIG), None),
    ([[1], [2**64]], None),
    (2**63, None),  # NumPy would make it uint64
    (2**64 - 1, None),
    (-(2**63) - 1, None),
    (-BIG, "int16"),
    ([True, BIG], None),
    (2**63 - 1, None),
    (-(2**63), None),
    (BIG, "float32"),
    (BIG, "float64"),
    (BIG, "bool"),
    ([1.0, BIG], None),  # a float beside it: a float tensor
    ([BIG, 1.0], None),
    ([[BIG], [1.0]], None),
    ([1j, BIG], None),
    (BIG, "int64"),
    (2**40, "int32"),
    ([1, 2**40], "int32"),
    ([[1, 2], [3, 2**40]], "int32"),
    (300, "int8"),
    (-129, "int8"),
    (-128, "int8"),
    (-1, "uint8"),  # PyTorch wraps a negative into an unsigned dtype: 255
    (-129, "uint8"),
    (-256, "uint8"),
    (256, "uint8"),
    ([0, -5, 7], "uint8"),
    (-(2**63), "uint8"),
    (2**63, "uint8"),
    (2**63, "uint64"),
    (2**64 - 1, "uint64"),
    (2**64, "uint64"),
    (-1, "uint64"),
]


def _outcome(make, data, dtype):
    try:
        return "ok", np.asarray(make(data, dtype=dtype).numpy()).tolist()
    except Exception as e:
        return type(e), str(e)


@pytest.mark.parametrize("data, dtype", CASES, ids=[f"{d!r:.30}-{t}" for d, t in CASES])
def test_an_int_the_dtype_cannot_hold_is_refused_as_pytorch_refuses_it(data, dtype):
    ours = _outcome(cr.tensor, data, None if dtype is None else np.dtype(dtype))
    theirs = _outcome(torch.tensor, data, None if dtype is None else getattr(torch, dtype))
    assert ours[0] is theirs[0], (ours, theirs)
    if ours[0] == "ok":
        np.testing.assert_array_equal(np.array(ours[1]), np.array(theirs[1]))
        return
    if theirs[0] is not OverflowError:  # uint64's words are Python's own, not PyTorch's
        assert theirs[1] in ours[1], (ours, theirs)
    assert ours[1].startswith("tensor: ")


def test_the_dtypes_match_pytorchs():
    assert cr.tensor([1.0, BIG]).dtype == cr.float32
    assert cr.tensor([1j, BIG]).dtype == np.complex64 == np.dtype(str(torch.complex64)[6:])
    assert cr.tensor(-1, dtype=cr.uint8).dtype == cr.uint8


def test_the_message_names_the_value_and_the_range():
    with pytest.raises(ValueError) as e:
        cr.tensor([[0, 1], [2, BIG]])
    assert str(e.value) == (
        f"tensor: Overflow when unpacking long long: {BIG} lies outside int64's range "
        "-9223372036854775808 .. 9223372036854775807"
    )
    with pytest.raises(
        RuntimeError, match=r"int8 without overflow: 300 lies outside -128 \.\. 127"
    ):
        cr.tensor([300], dtype=cr.int8)


def test_an_int_of_ten_thousand_digits_is_named_by_its_size():
    """Python refuses to print an int of more than 4,300 digits; the message gives its size."""
    with pytest.raises(ValueError, match="an int of 33220 bits lies outside int64's range"):
        cr.tensor([1, 10**10_000])


def test_as_tensor_refuses_it_too():
    with pytest.raises(ValueError, match="Overflow when unpacking long long"):
        cr.as_tensor([BIG])
    with pytest.raises(ValueError, match="Overflow when unpacking long long"):
        torch.as_tensor([BIG])


def test_other_bad_data_keeps_its_own_error():
    with pytest.raises(TypeError, match="cannot make a tensor of <U"):
        cr.tensor([1, "a"])
