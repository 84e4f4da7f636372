"""Global switch for recording operations on the tape."""
import functools


class _GradState:
    enabled = True


def is_grad_enabled():
    return _GradState.enabled


class _GradModeContext:
    _mode = True

    def __enter__(self):
        self._prev = _GradState.enabled
        _GradState.enabled = self._mode

    def __exit__(self, *exc):
        _GradState.enabled = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradModeContext):
    """Context manager and decorator: operations inside are not recorded for backward."""
    _mode = False


class enable_grad(_GradModeContext):
    """Context manager and decorator: re-enable recording inside a ``no_grad`` region."""
    _mode = True


class set_grad_enabled(_GradModeContext):
    def __init__(self, mode):
        self._mode = bool(mode)
        self._prev = _GradState.enabled
        _GradState.enabled = self._mode  # like PyTorch, it also works as a plain function call

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        _GradState.enabled = self._prev
        return False
