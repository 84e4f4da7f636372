"""``nn.utils.parametrize``: a module's parameter replaced by a function of other parameters.
``register_parametrization(module, "weight", m)`` keeps the original under
``module.parametrizations.weight.original`` (``original0``, ``original1``... when m's
right_inverse returns several) and makes ``module.weight`` compute m(original) on each access,
PyTorch's names and state_dict keys included."""
import contextlib

from cylayers._tensor import Tensor
from cylayers.autograd.grad_mode import no_grad
from cylayers.nn.modules.container import ModuleDict, ModuleList
from cylayers.nn.parameter import Parameter

_cache = {"enabled": False, "values": {}}


class ParametrizationList(ModuleList):
    def __init__(self, modules, original, unsafe=False):
        super().__init__(modules)
        self.unsafe = unsafe
        value = original
        with no_grad():
            for m in reversed(list(self)):
                if hasattr(m, "right_inverse"):
                    value = m.right_inverse(value)
        self.is_tensor = isinstance(value, Tensor)
        grad = original.requires_grad
        if self.is_tensor:
            if isinstance(original, Parameter) and value is original:
                self.original = original
            else:
                self.original = Parameter(value.detach().clone(), requires_grad=grad)
            self.ntensors = 1
        else:
            for i, v in enumerate(value):
                self.register_parameter(f"original{i}",
                                        Parameter(v.detach().clone(), requires_grad=grad))
            self.ntensors = len(value)

    def right_inverse(self, value):
        with no_grad():
            for m in reversed(list(self)):
                if hasattr(m, "right_inverse"):
                    value = m.right_inverse(value)
            if self.is_tensor:
                self.original.copy_(value)
            else:
                for i, v in enumerate(value):
                    getattr(self, f"original{i}").copy_(v)

    def forward(self):
        modules = list(self)
        if self.is_tensor:
            x = modules[0](self.original)
        else:
            x = modules[0](*[getattr(self, f"original{i}") for i in range(self.ntensors)])
        for m in modules[1:]:
            x = m(x)
        return x


def _parametrized_property(name):
    def getter(self):
        if _cache["enabled"]:
            key = (id(self), name)
            if key not in _cache["values"]:
                _cache["values"][key] = self.parametrizations[name]()
            return _cache["values"][key]
        return self.parametrizations[name]()

    def setter(self, value):
        self.parametrizations[name].right_inverse(value)
    return property(getter, setter)


def is_parametrized(module, tensor_name=None):
    plist = module.__dict__.get("_modules", {}).get("parametrizations")
    if plist is None:
        return False
    return True if tensor_name is None else tensor_name in plist


def register_parametrization(module, tensor_name, parametrization, *, unsafe=False):
    if is_parametrized(module, tensor_name):
        module.parametrizations[tensor_name].append(parametrization)
        return module
    if tensor_name in module._parameters:
        original = module._parameters.pop(tensor_name)
    elif tensor_name in module._buffers:
        original = module._buffers.pop(tensor_name)
    else:
        raise ValueError(f"Module '{module}' does not have a parameter, a buffer, or a "
                         f"parametrized element with name '{tensor_name}'")
    plist = ParametrizationList([parametrization], original, unsafe)
    if not is_parametrized(module):
        cls = type(module)
        module.__class__ = type(f"Parametrized{cls.__name__}", (cls,),
                                {"_original_class": cls})
        module.parametrizations = ModuleDict()
    module.parametrizations[tensor_name] = plist
    setattr(type(module), tensor_name, _parametrized_property(tensor_name))
    return module


def remove_parametrizations(module, tensor_name, leave_parametrized=True):
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {module} does not have a parametrization on {tensor_name}")
    plist = module.parametrizations[tensor_name]
    with no_grad():
        if leave_parametrized:
            value = Parameter(getattr(module, tensor_name).detach().clone())
        elif plist.is_tensor:
            value = plist.original
        else:
            raise ValueError("Cannot leave unparametrized (`leave_parametrized=False`) a tensor "
                             "that is parametrized in terms of a sequence of tensors.")
    delattr(type(module), tensor_name)
    del module.parametrizations[tensor_name]
    module.register_parameter(tensor_name, value if isinstance(value, Parameter)
                              else Parameter(value))
    if not len(module.parametrizations):
        del module._modules["parametrizations"]
        module.__class__ = module._original_class
    return module


@contextlib.contextmanager
def cached():
    """Within the block each parametrized tensor is computed once per module."""
    _cache["enabled"] = True
    try:
        yield
    finally:
        _cache["enabled"] = False
        _cache["values"].clear()


__all__ = ["register_parametrization", "remove_parametrizations", "is_parametrized", "cached",
           "ParametrizationList"]
