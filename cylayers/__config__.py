"""How this copy of cylayers was built and how it runs (PyTorch's ``torch.__config__``)."""
from cylayers import _build_config
from cylayers._threads import get_num_threads, have_openmp


def show():
    """A summary of the build (compiler, -march=native, OpenMP) and the thread setting."""
    native = "ON" if _build_config.NATIVE_ARCH else "OFF"
    return "\n".join([
        f"cylayers built as: {_build_config.BUILD_STATE}",
        f"  - C compiler: {_build_config.C_COMPILER}",
        f"  - -march=native: {native} (CYLAYERS_NATIVE_ARCH={_build_config.NATIVE_ARCH_REQUESTED})",
        f"  - OpenMP: {'ON' if have_openmp() else 'OFF'}",
        f"  - threads: {get_num_threads()}",
    ])
