"""autograd.functional (jacobian, vjp, jvp), anomaly detection and the legacy Variable,
against PyTorch."""
import warnings

import numpy as np
import pytest
import torch

import cylayers
from helpers import assert_close

RNG = np.random.default_rng(0)
X, Y = RNG.standard_normal((3, 2)), RNG.standard_normal(2)

FUNCTIONS = {
    "two_inputs": (lambda L: lambda x, y: (x ** 2 * y).sum(0), (X, Y)),
    "one_input_vector": (lambda L: lambda x: x.exp() * x[0], (Y,)),
    "two_outputs": (lambda L: lambda x, y: (x.sin().sum(), x @ y), (X, Y)),
    "unused_input": (lambda L: lambda x, y: x * 2, (Y, Y)),
}


def _args(lib, arrays):
    return tuple(lib.tensor(a) for a in arrays)


def _same(a, b):
    if isinstance(b, tuple):
        assert isinstance(a, tuple) and len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    else:
        assert_close(a, b, np.float64)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_jacobian_vjp_jvp_match_pytorch(name):
    make, arrays = FUNCTIONS[name]
    fo, ft = make(cylayers), make(torch)
    ins_o, ins_t = _args(cylayers, arrays), _args(torch, arrays)
    single = len(arrays) == 1
    _same(cylayers.autograd.functional.jacobian(fo, ins_o[0] if single else ins_o),
          torch.autograd.functional.jacobian(ft, ins_t[0] if single else ins_t))
    outs_t = ft(*ins_t)
    outs_t = outs_t if isinstance(outs_t, tuple) else (outs_t,)
    v = tuple(RNG.standard_normal(tuple(o.shape)) for o in outs_t)
    vo = tuple(cylayers.tensor(a) for a in v)
    vt = tuple(torch.tensor(a) for a in v)
    single_out = len(v) == 1
    _same(cylayers.autograd.functional.vjp(fo, ins_o, vo[0] if single_out else vo),
          torch.autograd.functional.vjp(ft, ins_t, vt[0] if single_out else vt))
    u = tuple(RNG.standard_normal(a.shape) for a in arrays)
    _same(cylayers.autograd.functional.jvp(fo, ins_o, tuple(cylayers.tensor(a) for a in u)),
          torch.autograd.functional.jvp(ft, ins_t, tuple(torch.tensor(a) for a in u)))


def test_second_order_and_create_graph_are_refused():
    f = lambda x: (x ** 3).sum()  # noqa: E731
    with pytest.raises(NotImplementedError, match="second derivatives"):
        cylayers.autograd.functional.hessian(f, cylayers.ones(2))
    with pytest.raises(NotImplementedError, match="create_graph"):
        cylayers.autograd.functional.jacobian(f, cylayers.ones(2), create_graph=True)


def test_detect_anomaly_names_the_node_as_pytorch():
    messages = []
    for lib in (cylayers, torch):
        x = lib.tensor([0.0, 1.0], requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(RuntimeError) as err, lib.autograd.detect_anomaly():
                (x.sqrt() * 0).sum().backward()
        messages.append(str(err.value).splitlines()[0])
    assert messages[0] == messages[1]
    assert not cylayers.autograd.is_anomaly_enabled()
    x = cylayers.tensor([0.0, 1.0], requires_grad=True)
    (x.sqrt() * 0).sum().backward()  # off again: NaN passes silently, as in PyTorch
    assert np.isnan(x.grad.numpy()[0])
    with cylayers.autograd.set_detect_anomaly(True):
        assert cylayers.autograd.is_anomaly_enabled()
    assert not cylayers.autograd.is_anomaly_enabled()


def test_variable_is_the_tensor():
    from cylayers.autograd import Variable
    v = Variable(cylayers.ones(2), requires_grad=True)
    assert isinstance(v, cylayers.Tensor) and isinstance(v, Variable) and v.requires_grad
    assert isinstance(cylayers.zeros(1), Variable)
    assert not isinstance(np.zeros(1), Variable)
