"""``torch.backends`` switches that scripts set: accepted and recorded; none changes what
cylayers computes (its kernels are deterministic already, and there is no cuDNN or MPS)."""
import types

from cylayers import _kernels

cudnn = types.SimpleNamespace(enabled=True, benchmark=False, deterministic=False,
                              allow_tf32=True, is_available=lambda: False,
                              version=lambda: None)
mps = types.SimpleNamespace(is_available=lambda: False, is_built=lambda: False)
cuda = types.SimpleNamespace(is_built=lambda: False,
                             matmul=types.SimpleNamespace(allow_tf32=False))
openmp = types.SimpleNamespace(is_available=lambda: _openmp_available())
mkldnn = types.SimpleNamespace(enabled=False, is_available=lambda: False)
# PyTorch's name for the instruction-set level its CPU kernels were chosen at: here the
# kernel level cylayers loaded (CYLAYERS_CPU_CAPABILITY; cylayers._kernels).
cpu = types.SimpleNamespace(get_cpu_capability=lambda: _kernels.LEVEL)


def _openmp_available():
    from cylayers._threads import have_openmp
    return have_openmp()
