"""The generated sweep of op_sweep.TABLE against PyTorch: one test per case (calling form x
dtype x shape x forward and gradient). ``python tests/ops/op_sweep.py`` prints the same cases'
size and pass rate."""
import warnings

import numpy as np
import pytest

from op_sweep import all_cases, run_case

CASES = all_cases()


@pytest.mark.parametrize("case_id", list(CASES))
def test_matches_pytorch(case_id):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # both libraries warn alike (degrees of freedom...)
        problems = run_case(CASES[case_id])
    assert not problems, "\n".join(problems)


def test_the_sweep_is_broad():
    """Every table entry expands into cases, and the table reaches every dtype and shape
    class (so that a narrowed table cannot pass unnoticed)."""
    from op_sweep import TABLE, cases_of
    assert all(cases_of(op) for op in TABLE)
    dtypes = {d for c in CASES.values() for d in c.dtypes}
    assert {"float32", "float64", "int32", "int64", "uint8", "bool"} <= dtypes
    shapes = {str(s) for c in CASES.values() for s in c.shapes}
    assert {"()", "(0, 3)", "T:(4, 3)"} <= shapes
    assert len(CASES) > 20000


def test_the_comparison_catches_differences():
    """run_case reports a wrong value, a wrong dtype and a missing refusal."""
    import torch
    import cylayers
    from op_sweep import Case, Op
    wrong_value = Op("wrong", lambda L, x: x + (1 if L is cylayers else 0), "unary")
    wrong_dtype = Op("wrong", lambda L, x: x.double() if L is cylayers else x, "unary")
    no_refusal = Op("wrong", lambda L, x: torch.t(x) if L is torch else x * 1, "unary")
    assert run_case(Case(wrong_value, "function", ("float32",), ((3, 4),), {}))
    assert run_case(Case(wrong_dtype, "function", ("float32",), ((3, 4),), {}))
    assert run_case(Case(no_refusal, "function", ("float32",), ((2, 3, 4),), {}))
