"""Compiled Cython + OpenMP kernels.

Each module holds one family (activation, dropout, normalization, im2col, pooling). Kernels take
contiguous typed memoryviews (inputs marked ``# IN``, results ``# OUT``), never Python objects,
and a ``num_threads`` chosen by :func:`cylayers._threads.threads_for`.
"""
