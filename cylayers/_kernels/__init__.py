"""Compiled Cython + OpenMP kernels, one instruction-set level chosen at import.

Each module holds one family (activation, dropout, normalization, im2col, pooling, ...). Kernels
take contiguous typed memoryviews (inputs marked ``# IN``, results ``# OUT``), never Python
objects, and a ``num_threads`` chosen by :func:`cylayers._threads.threads_for`.

Every module is compiled once per level (``_baseline``: the platform's defaults; ``_avx2``:
AVX2 + FMA; ``_avx512``: AVX-512 F/CD/VL/BW/DQ) and the highest level the CPU supports is
loaded, under the plain name (``cylayers._kernels.activation``), so the rest of cylayers never
sees levels. ``CYLAYERS_CPU_CAPABILITY=baseline|avx2|avx512`` asks for a lower level (as
PyTorch's ``ATEN_CPU_CAPABILITY``); a level the CPU cannot run is refused with a warning."""
import importlib
import importlib.util
import os
import sys
import warnings

from cylayers import _build_config
from cylayers._kernels import _cpu

KERNEL_MODULES = ("_openmp", "activation", "dropout", "normalization", "im2col", "direct_conv",
                  "pooling", "pointwise", "gemm", "winograd", "optim", "recurrent")
# Levels in rising order; "native" (a -march=native build) is the only level of its build.
LEVEL_ORDER = ("baseline", "avx2", "avx512")
CAPABILITY_VARIABLE = "CYLAYERS_CPU_CAPABILITY"


def choose_level(requested, built, supported):
    """The level to load: the highest one both built and supported, or ``requested`` where it is
    one of those. Returns (level, warning text or None)."""
    if built == ("native",):
        note = None if not requested else (
            f"{CAPABILITY_VARIABLE}={requested} ignored: this cylayers was built with "
            "-march=native (one level)")
        return "native", note
    usable = [lv for lv in LEVEL_ORDER if lv in built and lv in supported]
    best = usable[-1]
    if not requested:
        return best, None
    requested = requested.strip().lower()
    if requested == "default":
        return best, None
    if requested not in LEVEL_ORDER:
        return best, (f"{CAPABILITY_VARIABLE}={requested!r} is not a level "
                      f"({', '.join(LEVEL_ORDER)}); using {best}")
    if requested not in supported:
        return best, (f"{CAPABILITY_VARIABLE}={requested}: this CPU does not support it "
                      f"(it supports {', '.join(supported)}); using {best}")
    if requested not in built:
        return best, (f"{CAPABILITY_VARIABLE}={requested}: this build has no {requested} kernels "
                      f"(built: {', '.join(built)}); using {best}")
    return requested, None


def _load(level):
    for name in KERNEL_MODULES:
        spec = importlib.util.find_spec(f"{__name__}._{level}.{name}")
        if spec is None or spec.origin is None:
            raise ImportError(f"cylayers: the {level} kernels are missing {name} (a broken build?)")
        # The file is loaded under the plain module name it was transpiled with.
        plain = f"{__name__}.{name}"
        module_spec = importlib.util.spec_from_file_location(plain, spec.origin)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[plain] = module
        module_spec.loader.exec_module(module)
        globals()[name] = module


SUPPORTED_LEVELS = _cpu.supported_levels()
BUILT_LEVELS = tuple(_build_config.LEVELS)
LEVEL, _note = choose_level(os.environ.get(CAPABILITY_VARIABLE, ""), BUILT_LEVELS,
                            SUPPORTED_LEVELS)
if _note:
    warnings.warn(f"cylayers: {_note}", RuntimeWarning, stacklevel=2)
_load(LEVEL)
del _note
