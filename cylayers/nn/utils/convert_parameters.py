"""Parameters to one flat vector and back (PyTorch's parameters_to_vector /
vector_to_parameters)."""
from cylayers._functions import cat
from cylayers._tensor import Tensor


def parameters_to_vector(parameters):
    """One vector of every parameter's values, differentiable like PyTorch's."""
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of ``vec`` into the parameters' values (their .data)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    offset = 0
    for p in parameters:
        n = p.numel()
        p.data = vec[offset:offset + n].view_as(p).data.clone()
        offset += n
    if offset != vec.numel():
        raise RuntimeError(f"vector has {vec.numel()} elements, the parameters {offset}")
