"""Anomaly detection (``torch.autograd.detect_anomaly``): while it is on, the backward pass
checks every gradient a node returns and names the node that first produced a NaN, instead of
letting the NaN spread silently into the parameters."""
import functools
import threading
import warnings


class _AnomalyState(threading.local):
    enabled = False
    check_nan = True


anomaly_state = _AnomalyState()


def is_anomaly_enabled():
    return anomaly_state.enabled


def is_anomaly_check_nan_enabled():
    return anomaly_state.check_nan


class detect_anomaly:
    """Context manager and decorator: anomaly detection on inside it."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the "
                      "runtime and should only be enabled for debugging.", UserWarning,
                      stacklevel=2)

    def __enter__(self):
        self._previous = (anomaly_state.enabled, anomaly_state.check_nan)
        anomaly_state.enabled, anomaly_state.check_nan = True, self.check_nan

    def __exit__(self, *exc):
        anomaly_state.enabled, anomaly_state.check_nan = self._previous
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with self.__class__(self.check_nan):
                return fn(*args, **kwargs)
        return wrapped


class set_detect_anomaly:
    """Anomaly detection on or off (a function call, or a context manager restoring it)."""

    def __init__(self, mode, check_nan=True):
        self._previous = (anomaly_state.enabled, anomaly_state.check_nan)
        anomaly_state.enabled, anomaly_state.check_nan = bool(mode), check_nan

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        anomaly_state.enabled, anomaly_state.check_nan = self._previous
        return False
