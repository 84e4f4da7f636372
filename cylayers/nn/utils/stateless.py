"""``functional_call``: run a module with some of its parameters and buffers replaced by the
given tensors for that one call (``torch.func.functional_call``)."""
import contextlib


@contextlib.contextmanager
def _swapped(module, values, strict):
    named = dict(module.named_parameters(remove_duplicate=False))
    named.update(dict(module.named_buffers(remove_duplicate=False)))
    unknown = [k for k in values if k not in named]
    if unknown and strict:
        raise RuntimeError(f"Error(s) in reparametrizing for {type(module).__name__}:\n\t"
                           f"Unexpected key(s): {', '.join(repr(k) for k in unknown)}.")
    if strict:
        missing = [k for k in named if k not in values]
        if missing:
            raise RuntimeError(f"Error(s) in reparametrizing for {type(module).__name__}:\n\t"
                               f"Missing key(s): {', '.join(repr(k) for k in missing)}.")
    saved = []
    for key, value in values.items():
        if key not in named:
            continue
        *path, leaf = key.split(".")
        owner = module.get_submodule(".".join(path)) if path else module
        store = owner._parameters if leaf in owner._parameters else owner._buffers
        saved.append((store, leaf, store[leaf]))
        store[leaf] = value
    try:
        yield
    finally:
        for store, leaf, old in reversed(saved):
            store[leaf] = old


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                    tie_weights=True, strict=False):
    if isinstance(parameter_and_buffer_dicts, (list, tuple)):
        merged = {}
        for d in parameter_and_buffer_dicts:
            overlap = set(merged) & set(d)
            if overlap:
                raise ValueError(f"{sorted(overlap)} appeared in multiple dictionaries; "
                                 f"behavior of functional call is ambiguous")
            merged.update(d)
    else:
        merged = dict(parameter_and_buffer_dicts)
    args = () if args is None else args if isinstance(args, tuple) else (args,)
    with _swapped(module, merged, strict):
        return module(*args, **(kwargs or {}))
