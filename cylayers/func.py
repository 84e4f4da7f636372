"""``torch.func``'s functional_call (the other torch.func transforms, grad / vmap / jacrev,
need a traced backward, which cylayers' tape does not record)."""


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                    tie_weights=True, strict=False):
    from cylayers.nn.utils import stateless  # nn is imported after this module
    return stateless.functional_call(module, parameter_and_buffer_dicts, args, kwargs,
                                     tie_weights=tie_weights, strict=strict)


__all__ = ["functional_call"]
