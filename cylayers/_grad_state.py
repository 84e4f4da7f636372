"""The per-thread grad mode switch itself (cylayers.autograd.grad_mode has the context managers
that set it); a module of its own so that TensorBase reads it without importing the tape."""
import threading


class _GradState(threading.local):
    # Class attributes are every thread's starting values; assignments are per thread.
    enabled = True
    inference = False


grad_state = _GradState()
