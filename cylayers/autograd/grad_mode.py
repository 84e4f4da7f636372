"""Whether operations are recorded on the tape: a per-thread switch, as in PyTorch.

Each thread has its own state and a new thread starts with recording on, so one thread's
``no_grad`` (an eval loop, ``Optimizer.step``) never switches recording off for another.
"""
import functools

from cylayers._grad_state import grad_state


def is_grad_enabled():
    return grad_state.enabled


def is_inference_mode_enabled():
    return grad_state.inference


class _GradModeContext:
    """Sets grad mode on entry and restores the calling thread's previous mode on exit."""

    def __init__(self, mode=True):
        self._mode = bool(mode)
        self._prev = []  # a stack, so one instance may be entered again while active

    def _clone(self):
        return type(self)(self._mode)

    def __enter__(self):
        self._prev.append((grad_state.enabled, grad_state.inference))
        self._set()

    def _set(self):
        grad_state.enabled = self._mode

    def __exit__(self, *exc):
        grad_state.enabled, grad_state.inference = self._prev.pop()
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self._clone():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradModeContext):
    """Context manager and decorator: operations inside are not recorded for backward."""

    # The base class's steps written out: ``with no_grad()`` wraps every eval-mode call, so
    # its cost is paid per call.
    def __init__(self):
        self._mode = False
        self._prev = []

    def __enter__(self):
        state = grad_state
        self._prev.append((state.enabled, state.inference))
        state.enabled = False

    def _clone(self):
        return no_grad()


class enable_grad(_GradModeContext):
    """Context manager and decorator: re-enable recording inside a ``no_grad`` region."""

    def __init__(self):
        super().__init__(True)

    def _clone(self):
        return enable_grad()


class set_grad_enabled(_GradModeContext):
    """``set_grad_enabled(False)`` switches recording off for this thread at once (like
    PyTorch, it works as a plain call); used with ``with``, the previous mode comes back on exit."""

    def __init__(self, mode):
        super().__init__(mode)
        self._prev.append((grad_state.enabled, grad_state.inference))
        self._set()

    def __enter__(self):
        pass  # already applied by the constructor

    def __exit__(self, *exc):
        if self._prev:
            grad_state.enabled, grad_state.inference = self._prev.pop()
        return False

    def __call__(self, fn):
        # As a decorator the constructor's immediate switch is undone: only calls are affected.
        self.__exit__()
        return super().__call__(fn)

    def _clone(self):
        return _GradModeContext(self._mode)  # switches on entry, not on construction


class inference_mode(_GradModeContext):
    """``inference_mode(True)``: no recording, like ``no_grad`` (cylayers keeps no extra
    per-tensor bookkeeping that inference mode could skip, so the two cost the same here).
    ``inference_mode(False)`` leaves grad mode as it is."""

    def __init__(self, mode=True):
        super().__init__(mode)

    def _set(self):
        if self._mode:
            grad_state.enabled = False
            grad_state.inference = True
