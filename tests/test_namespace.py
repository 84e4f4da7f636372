"""`import cylayers as torch` alone reaches what PyTorch scripts use: submodules, devices, CUDA
probes, legacy tensor types, and tensors that print like PyTorch's."""
import subprocess
import sys

import numpy as np
import pytest
import torch

import cylayers


def test_submodules_reachable_from_the_bare_import():
    code = ("import cylayers as torch\n"
            "assert torch.utils.data.DataLoader and torch.nn.utils.clip_grad_norm_\n"
            "assert torch.optim.lr_scheduler.StepLR and torch.autograd.grad\n"
            "assert torch.nn.functional.relu and torch.utils.data.random_split\n"
            "assert torch.backends.cudnn.benchmark is False and not torch.cuda.is_available()\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_device_objects_and_to():
    d = cylayers.device("cpu")
    assert str(d) == "cpu" and repr(d) == repr(torch.device("cpu")).replace("torch.", "")
    assert d == "cpu" and cylayers.device("cpu", 0) == cylayers.device("cpu:0")
    assert str(cylayers.device("cuda:1")) == "cuda:1"  # a name only, as in PyTorch
    x = cylayers.ones(2)
    assert x.device == d and x.to(d) is x and x.to("cpu", cylayers.float64).dtype == \
        cylayers.float64
    assert x.to(d, copy=True) is not x and not x.is_cuda
    m = cylayers.nn.Linear(2, 2)
    assert m.to(d) is m
    for bad in ("cuda", cylayers.device("cuda:0"), "mps"):
        with pytest.raises(ValueError, match="CPU only"):
            x.to(bad)
        with pytest.raises(ValueError, match="CPU only"):
            m.to(bad)
    with pytest.raises(ValueError, match="CPU only"):
        x.to(device="cuda")
    with pytest.raises(ValueError, match="CPU only"):
        x.cuda()
    with pytest.raises(RuntimeError, match="device type"):
        cylayers.device("gpu")
    dev = cylayers.device("cuda" if cylayers.cuda.is_available() else "cpu")
    assert cylayers.randn(3).to(dev).shape == (3,)


def test_cuda_module_probes():
    assert cylayers.cuda.is_available() is False and cylayers.cuda.device_count() == 0
    cylayers.cuda.manual_seed(0)
    cylayers.cuda.manual_seed_all(0)
    with pytest.raises(RuntimeError, match="CPU only"):
        cylayers.cuda.current_device()


def test_generator_and_manual_seed():
    g = cylayers.Generator().manual_seed(3)
    assert isinstance(g, cylayers.Generator) and g.initial_seed() == 3


@pytest.mark.parametrize("args,kwargs", [((10, (3,)), {}), ((10,), {"size": (2, 3)}),
                                         ((3, 10, (2, 2)), {}), ((-5, 5), {"size": (7,)})])
def test_randint_argument_forms_match_torch(args, kwargs):
    ours, theirs = cylayers.randint(*args, **kwargs), torch.randint(*args, **kwargs)
    assert ours.shape == tuple(theirs.shape) and str(ours.dtype).endswith("int64")
    low, high = (0, args[0]) if len(args) == 1 or isinstance(args[1], tuple) else args[:2]
    assert ours.numpy().min() >= low and ours.numpy().max() < high


@pytest.mark.parametrize("draw", [
    lambda g: cylayers.randn(2, 3, generator=g),
    lambda g: cylayers.rand(2, 3, generator=g),
    lambda g: cylayers.randint(0, 100, (2, 3), generator=g),
    lambda g: cylayers.randperm(10, generator=g),
    lambda g: cylayers.nn.init.uniform_(cylayers.empty(2, 3), generator=g),
    lambda g: cylayers.nn.init.normal_(cylayers.empty(2, 3), generator=g),
    lambda g: cylayers.nn.init.trunc_normal_(cylayers.empty(2, 3), generator=g),
    lambda g: cylayers.nn.init.kaiming_uniform_(cylayers.empty(2, 3), generator=g),
    lambda g: cylayers.empty(2, 3).uniform_(-1, 1, generator=g),
    lambda g: cylayers.empty(2, 3).normal_(0, 2, generator=g),
])
def test_generator_argument_draws_from_its_own_stream(draw):
    # A seeded Generator repeats itself and leaves the global stream untouched.
    cylayers.manual_seed(0)
    first = draw(cylayers.Generator().manual_seed(7)).tolist()
    global_next = cylayers.rand(4).tolist()
    cylayers.manual_seed(0)
    assert draw(cylayers.Generator().manual_seed(7)).tolist() == first
    assert draw(cylayers.Generator().manual_seed(8)).tolist() != first
    cylayers.manual_seed(0)
    draw(cylayers.Generator().manual_seed(9))
    assert cylayers.rand(4).tolist() == global_next
    with pytest.raises(TypeError, match="expected a cylayers.Generator"):
        draw(3)


@pytest.mark.parametrize("name,dtype", [("FloatTensor", "float32"), ("DoubleTensor", "float64"),
                                        ("LongTensor", "int64"), ("IntTensor", "int32"),
                                        ("BoolTensor", "bool"), ("ByteTensor", "uint8")])
def test_legacy_tensor_types(name, dtype):
    ours, theirs = getattr(cylayers, name), getattr(torch, name)
    assert ours(2, 3).shape == tuple(theirs(2, 3).shape)
    assert str(ours([1, 0]).dtype).endswith(dtype) and str(theirs([1, 0]).dtype).endswith(dtype)
    assert ours([1, 0]).tolist() == theirs([1, 0]).tolist()
    x = cylayers.tensor([1.5, 0.0])
    y = x.type(ours)
    assert isinstance(y, ours) and isinstance(y, cylayers.Tensor)
    assert y.type() == f"cylayers.{name}" and torch.tensor([1.5, 0.0]).type(theirs).type() == \
        f"torch.{name}"
    assert x.type(f"torch.{name}").dtype == y.dtype


def test_tensor_constructor_like_pytorch():
    assert cylayers.Tensor(2, 3).shape == (2, 3) and cylayers.Tensor(2, 3).dtype == cylayers.float32
    assert cylayers.Tensor(cylayers.Size([4])).shape == (4,)
    assert cylayers.Tensor().shape == tuple(torch.Tensor().shape) == (0,)
    assert cylayers.Tensor([1, 2]).dtype == cylayers.float32
    assert cylayers.Tensor(np.arange(3.0)).tolist() == [0.0, 1.0, 2.0]


REPR_CASES = [
    [1.5, 2.0], [1.0, 2.0], [1e10, 1.0], [1e-5, 1.0], 3.0, [[1, 2], [3, 4]], [True, False],
    [float("nan"), float("inf"), 1.5], [-0.0, 100.25, 1234.5], [[0.1234567, -12.5], [3.0, 4.0]],
    [0.0, 0.0], [1e-9, 2e-9], [123456789.0, 1.0], [[[1.5]]], [-1.0, -2.5],
]


@pytest.mark.parametrize("values", REPR_CASES, ids=[str(i) for i in range(len(REPR_CASES))])
@pytest.mark.parametrize("dtype", [None, "float64"])
def test_repr_matches_pytorch(values, dtype):
    ours = cylayers.tensor(values, dtype=None if dtype is None else getattr(cylayers, dtype))
    theirs = torch.tensor(values, dtype=None if dtype is None else getattr(torch, dtype))
    assert repr(ours) == repr(theirs).replace("torch.", "cylayers.")


@pytest.mark.parametrize("shape", [(2000,), (40, 40), (3, 500), (5, 4, 300), (2, 0), (0,)])
def test_repr_summarizes_and_wraps_like_pytorch(shape):
    arr = np.random.default_rng(1).standard_normal(shape).astype(np.float32) * 50
    assert repr(cylayers.tensor(arr)) == repr(torch.tensor(arr))
    ints = (arr * 1000).astype(np.int64)
    assert repr(cylayers.tensor(ints)) == repr(torch.tensor(ints)).replace("torch.", "cylayers.")


def test_repr_suffixes_and_printoptions():
    x = cylayers.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x) == "tensor([1., 2.], requires_grad=True)"
    assert repr(x * 2).startswith("tensor([2., 4.], grad_fn=<")
    assert repr(cylayers.zeros(2, 0, dtype=cylayers.int64)) == repr(
        torch.zeros(2, 0, dtype=torch.int64)).replace("torch.", "cylayers.")
    try:
        cylayers.set_printoptions(precision=2)
        torch.set_printoptions(precision=2)
        assert repr(cylayers.tensor([1.2345])) == repr(torch.tensor([1.2345]))
    finally:
        cylayers.set_printoptions(profile="default")
        torch.set_printoptions(profile="default")
