"""Seeding for everything random in cylayers.

Two generators, reset together by ``manual_seed``:
- a numpy ``Generator`` (PCG64) for initialization and ``randn``/``rand``/shuffling;
- a counter-based stream for the dropout kernels: each call takes the next ``offset``, and every
  element's random number is a pure function of (seed, offset, element index), so masks do not
  depend on the thread count and backward can regenerate them instead of storing them.
"""
import json

import numpy as np

from cylayers._tensor_base import TensorBase
from cylayers.device import check_cpu, device

_DEFAULT_SEED = 67280421310721  # PyTorch's default initial seed


class _State:
    seed = _DEFAULT_SEED
    generator = np.random.Generator(np.random.PCG64(_DEFAULT_SEED))
    kernel_offset = 0


def manual_seed(seed):
    """Seed every random number generator cylayers uses; returns ``default_generator``, as
    PyTorch returns its default Generator."""
    seed = int(seed)
    if not -(2 ** 63) <= seed < 2 ** 64:
        raise ValueError(f"Overflow when unpacking long: seed {seed} does not fit in 64 bits")
    seed &= (1 << 64) - 1
    _State.seed = seed
    _State.generator = np.random.Generator(np.random.PCG64(seed))
    _State.kernel_offset = 0
    return default_generator


def seed():
    """Seed from the operating system's entropy and return the seed, like torch.seed()."""
    manual_seed(int(np.random.SeedSequence().entropy) & ((1 << 63) - 1))
    return _State.seed


def initial_seed():
    return _State.seed


def get_generator(generator=None):
    """The numpy generator behind ``generator`` (a :class:`Generator`), or the global one."""
    if generator is None:
        return _State.generator
    if not isinstance(generator, Generator):
        raise TypeError(f"expected a cylayers.Generator, got {type(generator).__name__}")
    return generator._numpy


class Generator:
    """``torch.Generator``: an independent random stream (numpy's PCG64) for shuffling and
    sampling, e.g. ``DataLoader(..., generator=cylayers.Generator().manual_seed(0))``."""

    def __init__(self, device="cpu"):
        check_cpu(device)
        self.manual_seed(_DEFAULT_SEED)

    @property
    def device(self):
        return device("cpu")

    def manual_seed(self, seed):
        seed = int(seed)
        if not -(2 ** 63) <= seed < 2 ** 64:
            raise ValueError(f"Overflow when unpacking long: seed {seed} does not fit in 64 bits")
        self._seed = seed & ((1 << 64) - 1)
        self._numpy = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def seed(self):
        self.manual_seed(int(np.random.SeedSequence().entropy) & ((1 << 63) - 1))
        return self._seed

    def initial_seed(self):
        return self._seed

    def get_state(self):
        """An opaque uint8 tensor, as in PyTorch; pass it back to :meth:`set_state`."""
        state = json.dumps({"seed": self._seed, "numpy": self._numpy.bit_generator.state})
        return TensorBase._make(np.frombuffer(state.encode(), dtype=np.uint8).copy())

    def set_state(self, state):
        raw = state._array if hasattr(state, "_array") else np.asarray(state, dtype=np.uint8)
        data = json.loads(raw.tobytes().decode())
        bit_generator = np.random.PCG64()
        bit_generator.state = data["numpy"]
        self._seed, self._numpy = data["seed"], np.random.Generator(bit_generator)
        return self


class _DefaultGenerator(Generator):
    """``torch.default_generator``: the global stream that manual_seed seeds, as a Generator
    (``manual_seed`` returns it; passing it as ``generator=`` draws from the global stream)."""

    def __init__(self):  # no stream of its own: every method reads the global state
        pass

    @property
    def _numpy(self):
        return _State.generator

    @property
    def _seed(self):
        return _State.seed

    def manual_seed(self, seed):
        return manual_seed(seed)

    def seed(self):
        return seed()

    def get_state(self):
        state = json.dumps(get_rng_state())
        return TensorBase._make(np.frombuffer(state.encode(), dtype=np.uint8).copy())

    def set_state(self, state):
        raw = state._array if hasattr(state, "_array") else np.asarray(state, dtype=np.uint8)
        set_rng_state(json.loads(raw.tobytes().decode()))
        return self


default_generator = _DefaultGenerator()


def next_kernel_stream(count=1):
    """(key, offset) for one call of a random kernel; advances the stream by ``count`` blocks."""
    offset = _State.kernel_offset
    _State.kernel_offset += count
    return _State.seed, offset


def get_rng_state():
    g = _State.generator.bit_generator.state
    return {"seed": _State.seed, "kernel_offset": _State.kernel_offset, "numpy": g}


def set_rng_state(state):
    _State.seed = state["seed"]
    _State.kernel_offset = state["kernel_offset"]
    bg = np.random.PCG64()
    bg.state = state["numpy"]
    _State.generator = np.random.Generator(bg)
