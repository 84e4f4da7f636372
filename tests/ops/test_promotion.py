"""PyTorch's type promotion, swept against PyTorch: every pair of operand classes (tensor with
dimensions, 0-d tensor, Python number, numpy scalar) x dtypes x arithmetic ops, by value and
dtype, and torch.result_type / promote_types / can_cast."""
import itertools

import numpy as np
import pytest
import torch

import cylayers

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]
NUMBERS = [True, 2, 1.5, np.float64(2.5), np.float32(0.5), np.int64(3)]
OPS = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
       "div": lambda a, b: a / b}


def _operand(kind, dtype, lib):
    """A dimensioned (2,) or 0-d tensor of dtype, with values 1 and 2 (no division by 0)."""
    values = np.array([1, 2] if kind == "dims" else 2).astype(dtype)
    if lib == "torch":
        return torch.from_numpy(values.copy())
    return cylayers.tensor(values)


def _compare(fn, a_torch, b_torch, a_ours, b_ours):
    try:
        want = fn(a_torch, b_torch)
    except (RuntimeError, TypeError):
        return  # PyTorch refuses (bool subtraction...): nothing to match
    got = fn(a_ours, b_ours)
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1], (got.dtype,
                                                                             want.dtype)
    np.testing.assert_allclose(got.numpy().astype(np.float64),
                               want.numpy().astype(np.float64), rtol=1e-3)


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("kinds", [("dims", "dims"), ("dims", "zero"), ("zero", "dims"),
                                   ("zero", "zero")])
def test_tensor_with_tensor(op, kinds):
    for da, db in itertools.product(DTYPES, DTYPES):
        _compare(OPS[op], _operand(kinds[0], da, "torch"), _operand(kinds[1], db, "torch"),
                 _operand(kinds[0], da, "ours"), _operand(kinds[1], db, "ours"))


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize("kind", ["dims", "zero"])
@pytest.mark.parametrize("reflected", [False, True])
def test_tensor_with_number(op, kind, reflected):
    for dt, number in itertools.product(DTYPES, NUMBERS):
        a_t, a_o = _operand(kind, dt, "torch"), _operand(kind, dt, "ours")
        if reflected:
            _compare(OPS[op], number, a_t, number, a_o)
        else:
            _compare(OPS[op], a_t, number, a_o, number)


def test_the_everyday_cases():
    x = cylayers.ones(3)
    assert (x / np.sqrt(64)).dtype == cylayers.float32
    assert (x - np.float64(1)).dtype == cylayers.float32
    assert (x + cylayers.tensor(1.0, dtype=cylayers.float64)).dtype == cylayers.float32
    assert (cylayers.tensor([1, 2], dtype=cylayers.int32) + 1.5).dtype == cylayers.float32


def test_gradient_of_a_wider_zero_dim_operand_keeps_its_dtype():
    x = cylayers.ones(3, requires_grad=True)
    s = cylayers.tensor(2.0, dtype=cylayers.float64, requires_grad=True)
    (x * s).sum().backward()
    assert x.grad.dtype == cylayers.float32 and s.grad.dtype == cylayers.float64
    assert s.grad.item() == 3.0


def test_result_type_promote_types_can_cast_match_pytorch():
    names = DTYPES
    for a, b in itertools.product(names, names):
        ta, tb = getattr(torch, a), getattr(torch, b)
        oa, ob = getattr(cylayers, a), getattr(cylayers, b)
        assert str(cylayers.promote_types(oa, ob)).split(".")[-1] == \
            str(torch.promote_types(ta, tb)).split(".")[-1], (a, b)
        assert cylayers.can_cast(oa, ob) == torch.can_cast(ta, tb), (a, b)
        for kinds in (("dims", "zero"), ("zero", "dims")):
            want = torch.result_type(_operand(kinds[0], a, "torch"), _operand(kinds[1], b, "torch"))
            got = cylayers.result_type(_operand(kinds[0], a, "ours"), _operand(kinds[1], b, "ours"))
            assert str(got).split(".")[-1] == str(want).split(".")[-1], (a, b, kinds)
    for number in NUMBERS:
        for a in names:
            want = torch.result_type(_operand("dims", a, "torch"), number)
            got = cylayers.result_type(_operand("dims", a, "ours"), number)
            assert str(got).split(".")[-1] == str(want).split(".")[-1], (a, number)


def test_dtype_aliases():
    assert cylayers.int == cylayers.int32 and cylayers.short == cylayers.int16
    assert cylayers.half == cylayers.float16 and cylayers.long == cylayers.int64
    assert cylayers.float == cylayers.float32 and cylayers.double == cylayers.float64
    for name in ("int8", "int16", "uint8", "bool"):
        assert cylayers.zeros(2, dtype=getattr(cylayers, name)).dtype == getattr(cylayers, name)


def test_use_deterministic_algorithms_takes_a_bool():
    before = cylayers.are_deterministic_algorithms_enabled()
    try:
        cylayers.use_deterministic_algorithms(True)
        assert cylayers.are_deterministic_algorithms_enabled() is True
        cylayers.use_deterministic_algorithms(False, warn_only=True)
        assert cylayers.are_deterministic_algorithms_enabled() is False
    finally:
        cylayers.use_deterministic_algorithms(before)
