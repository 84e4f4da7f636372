"""Keep freed large blocks in the process heap instead of returning them to the OS (glibc).

Every op allocates its output; with glibc's defaults a multi-megabyte array comes from a fresh
mmap, and touching it page-faults: copying 5 MB into a fresh array took 1.37 ms instead of
0.15 ms when arrays stay alive as they do on the tape (measured here). Raising the mmap and trim
thresholds lets such blocks be reused. It is process-wide (PyTorch or numpy in the same process
benefit too) and costs resident memory that is not given back; CYLAYERS_MALLOC_TUNING=0 turns it
off. Only glibc has mallopt; elsewhere this does nothing."""
import ctypes
import ctypes.util
import os

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 64 << 20   # blocks up to 64 MiB are served from (and returned to) the heap
TRIM_THRESHOLD = 256 << 20  # keep up to 256 MiB of free heap before giving memory back


def tune():
    """Apply the thresholds; returns True when glibc accepted them."""
    if os.environ.get("CYLAYERS_MALLOC_TUNING", "1") == "0":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


tuned = tune()
