# The one rule for every kernel: each array holds exactly the elements its size arguments say
# (a kernel reads and writes by index without bounds checks), and no size is negative; a call
# that breaks it raises ValueError naming the kernel and the array, before any element is
# touched. tests/test_kernel_sizes.py replays every kernel's real calls with each array one
# element short.

cdef inline int check_length(str kernel, str array, Py_ssize_t have,
                             Py_ssize_t need) except -1:
    if have != need:
        raise ValueError(f"{kernel}: {array} has {have} elements, expected {need}")
    return 0


cdef inline int check_counts(str kernel, tuple counts) except -1:
    for c in counts:
        if c < 0:
            raise ValueError(f"{kernel}: sizes must not be negative, got {counts}")
    return 0
