"""How this copy of cylayers was built and how it runs (PyTorch's ``torch.__config__``)."""
import os

from cylayers import _blas, _build_config, _kernels, _threads
from cylayers._kernels import _openmp
from cylayers._threads import get_num_threads, have_openmp
from cylayers.nn.functional import direct_conv


def _load_line():
    load = _threads._load
    if not load.enabled:
        return "not following the machine's load (CYLAYERS_FOLLOW_LOAD=0, or no /proc/stat)"
    now = "" if load.cap is None else f"; now at most {load.cap}"
    return f"fewer where other processes keep cores busy{now}"


def cpu_capability():
    """The kernel level in use: 'baseline', 'avx2', 'avx512' (or 'native' for a -march=native
    build), as PyTorch's ``torch.backends.cpu.get_cpu_capability()``."""
    return _kernels.LEVEL


def show():
    """A summary of the build, the kernel level chosen for this CPU and the paths it enables,
    the thread setting and the BLAS (a string, as PyTorch's)."""
    requested = os.environ.get(_kernels.CAPABILITY_VARIABLE)
    blas = _blas.info()
    blas_line = (f"{blas['path']} on cylayers' threads" if blas["active"]
                 else f"numpy's ({blas['reason']})")
    on = {True: "ON", False: "OFF"}
    return "\n".join([
        f"cylayers built as: {_build_config.BUILD_STATE}",
        f"  - C compiler: {_build_config.C_COMPILER}",
        f"  - kernel levels built: {', '.join(_build_config.LEVELS)}"
        + (" (-march=native)" if _build_config.NATIVE_ARCH else ""),
        f"  - CPU supports: {', '.join(_kernels.SUPPORTED_LEVELS)}",
        f"  - CPU capability: {_kernels.LEVEL} ({_kernels.CAPABILITY_VARIABLE}="
        f"{requested if requested is not None else 'unset'})",
        f"  - vectors: {_openmp.vector_bytes() * 8}-bit",
        f"  - direct convolution: {on[direct_conv._register_kernels]}",
        f"  - register-tiled thin products (Winograd): {on[_blas._register_kernels]}",
        f"  - OpenMP: {on[have_openmp()]}",
        f"  - threads: {get_num_threads()}, {_load_line()}",
        f"  - BLAS: {blas_line}",
    ])
