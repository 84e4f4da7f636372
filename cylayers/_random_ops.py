"""PyTorch's random sampling functions and Tensor fills beyond rand/randn/randint: bernoulli,
normal (tensor means and stds), poisson, multinomial's kin, randint_like, and the in-place
fills random_, bernoulli_, exponential_, geometric_, log_normal_, cauchy_. All draw from the
default generator (or the given one), so manual_seed makes them reproducible."""
import numpy as np

from cylayers import _dtype
from cylayers._tensor_base import TensorBase, _shape_arg, unwrap
from cylayers._functions import multinomial
from cylayers.random import default_generator, get_generator


def bernoulli(input, p=None, *, generator=None):
    """0/1 draws with probability ``input`` (or ``p``), in input's dtype."""
    probs = np.asarray(unwrap(input), dtype=np.float64) if p is None else \
        np.broadcast_to(np.asarray(unwrap(p), dtype=np.float64), input.shape)
    if ((probs < 0) | (probs > 1)).any() or np.isnan(probs).any():
        raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
    draws = get_generator(generator).random(probs.shape) < probs
    return TensorBase._make(draws.astype(input._array.dtype))


def normal(mean, std=1.0, size=None, *, generator=None, dtype=None, requires_grad=False,
           device=None):
    """Normal draws: tensor means and/or stds broadcast together, or floats with a size."""
    if not isinstance(mean, TensorBase) and not isinstance(std, TensorBase):
        if size is None:
            raise TypeError("normal() received an invalid combination of arguments: float mean "
                            "and std need a size")
        dt = _dtype.to_numpy_dtype(dtype) if dtype is not None else _dtype.default_float()
        out = get_generator(generator).normal(mean, std, _shape_arg((size,))).astype(dt)
        return TensorBase._make(out, requires_grad)
    m, s = unwrap(mean), unwrap(std)
    if isinstance(std, TensorBase) and (np.asarray(s) < 0).any():
        raise RuntimeError("normal expects all elements of std >= 0.0")
    shape = np.broadcast_shapes(np.shape(m), np.shape(s))
    ref = mean if isinstance(mean, TensorBase) else std
    draws = get_generator(generator).standard_normal(shape)
    return TensorBase._make((draws * s + m).astype(ref._array.dtype))


def poisson(input, generator=None):
    rates = np.asarray(unwrap(input), dtype=np.float64)
    return TensorBase._make(get_generator(generator).poisson(rates).astype(input._array.dtype))


def randint_like(input, low=0, high=None, *, dtype=None, requires_grad=False, device=None,
                 generator=None):
    if high is None:
        low, high = 0, low
    dt = input._array.dtype if dtype is None else _dtype.to_numpy_dtype(dtype)
    draws = get_generator(generator).integers(low, high, size=input.shape)
    return TensorBase._make(draws.astype(dt), requires_grad)


def get_rng_state():
    """The default generator's state as a uint8 tensor, for set_rng_state."""
    return default_generator.get_state()


def set_rng_state(new_state):
    default_generator.set_state(new_state)


__all__ = ["bernoulli", "normal", "poisson", "randint_like", "get_rng_state", "set_rng_state"]


def _fill_random(self, values):
    """Write freshly drawn values in place, outside the graph (as nn.init's fills do)."""
    self._array[...] = values
    self._bump_version()
    return self


class RandomMethods:
    """Tensor's in-place fills with random draws, from the default generator or the given one."""
    __slots__ = ()

    def uniform_(self, a=0.0, b=1.0, *, generator=None):
        return _fill_random(self, get_generator(generator).uniform(a, b, size=self._array.shape))

    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        return _fill_random(self, get_generator(generator).normal(mean, std,
                                                                 size=self._array.shape))

    def random_(self, *bounds, generator=None, **named):
        """Integers in [from, to) (random_(to) alone is [0, to)); without bounds, [0, 2^mantissa]
        for floats and the dtype's range otherwise (PyTorch's)."""
        from_, to = 0, None
        if len(bounds) == 1:
            to = bounds[0]
        elif len(bounds) == 2:
            from_, to = bounds
        from_, to = named.get("from", from_), named.get("to", to)
        dt = self._array.dtype
        if to is None:
            if dt.kind == "f":
                to = (1 << (np.finfo(dt).nmant + 1)) + 1
            elif dt == np.bool_:
                to = 2
            else:
                to = int(np.iinfo(dt).max) + 1
        return _fill_random(self, get_generator(generator).integers(from_, to, size=self.shape))


    def bernoulli_(self, p=0.5, *, generator=None):
        probs = np.broadcast_to(np.asarray(unwrap(p), dtype=np.float64), self.shape)
        return _fill_random(self, get_generator(generator).random(self.shape) < probs)


    def exponential_(self, lambd=1.0, *, generator=None):
        return _fill_random(self, get_generator(generator).exponential(1.0 / lambd, self.shape))


    def geometric_(self, p, *, generator=None):
        return _fill_random(self, get_generator(generator).geometric(p, self.shape))


    def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
        return _fill_random(self, get_generator(generator).lognormal(mean, std, self.shape))


    def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
        draws = get_generator(generator).standard_cauchy(self.shape)
        return _fill_random(self, median + sigma * draws)

    def bernoulli(self, p=None, *, generator=None):
        return bernoulli(self, p, generator=generator)

    multinomial = multinomial
