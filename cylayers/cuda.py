"""``torch.cuda`` as device-agnostic scripts probe it: there is no GPU here. The queries answer
(no device), seeding is accepted and does nothing (as PyTorch does without CUDA), and anything
that needs a GPU raises a clear error."""


def is_available():
    return False


def device_count():
    return 0


def is_initialized():
    return False


def manual_seed(seed):
    """Accepted, like PyTorch without CUDA: there is no CUDA generator to seed."""


manual_seed_all = manual_seed


def empty_cache():
    """Nothing is cached: there is no device memory."""


def _no_gpu(what):
    def fn(*args, **kwargs):
        raise RuntimeError(f"cylayers.cuda.{what}(): cylayers runs on the CPU only and has no "
                           "CUDA device (check cylayers.cuda.is_available() first)")
    fn.__name__ = what
    return fn


current_device = _no_gpu("current_device")
get_device_name = _no_gpu("get_device_name")
set_device = _no_gpu("set_device")
synchronize = _no_gpu("synchronize")
memory_allocated = _no_gpu("memory_allocated")
max_memory_allocated = _no_gpu("max_memory_allocated")
