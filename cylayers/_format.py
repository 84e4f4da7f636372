"""Tensor printing in PyTorch's format (``tensor([[1.5000, 2.0000]])``) and set_printoptions.

The rules PyTorch users read their numbers by: floats get 4 decimals, or none (``1.``) when every
value is an integer, or scientific notation when the magnitudes span more than 1000x, exceed
1e8 or go below 1e-4; every value is padded to the widest; rows wrap at 80 columns; tensors of
more than 1000 elements are summarized with '...' around 3 edge items; the dtype is named
unless it is float32, int64 or bool."""
import math

import numpy as np


class _PrintOptions:
    precision = 4
    threshold = 1000
    edgeitems = 3
    linewidth = 80
    sci_mode = None


PRINT_OPTS = _PrintOptions()
_PROFILES = {"default": (4, 1000, 3, 80), "short": (2, 1000, 2, 80),
             "full": (4, math.inf, 3, 80)}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None):
    """``torch.set_printoptions``: the same options, the same profiles."""
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"unknown print profile {profile!r}: one of {sorted(_PROFILES)}")
        (PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems,
         PRINT_OPTS.linewidth) = _PROFILES[profile]
    for name, value in (("precision", precision), ("threshold", threshold),
                        ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if value is not None:
            setattr(PRINT_OPTS, name, value)
    PRINT_OPTS.sci_mode = sci_mode


class _Formatter:
    """Chooses one notation and one width for all the values of a tensor."""

    def __init__(self, arr):
        self.floating = arr.dtype.kind == "f"
        self.int_mode, self.sci_mode, self.width = True, False, 1
        flat = arr.reshape(-1)
        if not self.floating:
            for v in flat.tolist():
                self.width = max(self.width, len(str(v)))
            return
        values = flat[np.isfinite(flat) & (flat != 0)].astype(np.float64)
        if values.size == 0:
            return
        magnitudes = np.abs(values)
        lo, hi = magnitudes.min(), magnitudes.max()
        precision = PRINT_OPTS.precision
        self.int_mode = bool(np.all(values == np.ceil(values)))
        wide_range = hi / lo > 1000.0 or hi > 1.0e8
        if self.int_mode:
            if wide_range:
                self.sci_mode = True
                texts = [f"{v:.{precision}e}" for v in values.tolist()]
            else:
                texts = [f"{v:.0f}." for v in values.tolist()]  # the '.' marks a float dtype
        elif wide_range or lo < 1.0e-4:
            self.sci_mode = True
            texts = [f"{v:.{precision}e}" for v in values.tolist()]
        else:
            texts = [f"{v:.{precision}f}" for v in values.tolist()]
        self.width = max(len(t) for t in texts)
        if PRINT_OPTS.sci_mode is not None:
            self.sci_mode = PRINT_OPTS.sci_mode

    def format(self, value):
        if not self.floating:
            text = str(value)
        elif self.sci_mode:
            text = f"{value:{self.width}.{PRINT_OPTS.precision}e}"
        elif self.int_mode:
            text = f"{value:.0f}" + ("" if math.isinf(value) or math.isnan(value) else ".")
        else:
            text = f"{value:.{PRINT_OPTS.precision}f}"
        return " " * (self.width - len(text)) + text


def _summarized(arr):
    """The elements that will be printed: the edge items of every dimension."""
    edge = PRINT_OPTS.edgeitems
    if arr.ndim == 0:
        return arr
    if arr.shape[0] > 2 * edge:
        arr = np.concatenate([arr[:edge], arr[-edge:]])
    if arr.ndim == 1:
        return arr
    return np.stack([_summarized(row) for row in arr]) if arr.shape[0] else arr


def _vector(arr, indent, summarize, fmt):
    per_line = max(1, int(math.floor((PRINT_OPTS.linewidth - indent) / (fmt.width + 2))))
    edge = PRINT_OPTS.edgeitems
    if summarize and not edge:
        items = ["..."]
    elif summarize and arr.shape[0] > 2 * edge:
        items = ([fmt.format(v) for v in arr[:edge].tolist()] + [" ..."]
                 + [fmt.format(v) for v in arr[-edge:].tolist()])
    else:
        items = [fmt.format(v) for v in arr.tolist()]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _nested(arr, indent, summarize, fmt):
    if arr.ndim == 0:
        return fmt.format(arr.item())
    if arr.ndim == 1:
        return _vector(arr, indent, summarize, fmt)
    edge = PRINT_OPTS.edgeitems
    if summarize and arr.shape[0] > 2 * edge:
        rows = ([_nested(arr[i], indent + 1, summarize, fmt) for i in range(edge)] + ["..."]
                + [_nested(arr[i], indent + 1, summarize, fmt)
                   for i in range(arr.shape[0] - edge, arr.shape[0])])
    else:
        rows = [_nested(arr[i], indent + 1, summarize, fmt) for i in range(arr.shape[0])]
    return "[" + ("," + "\n" * (arr.ndim - 1) + " " * (indent + 1)).join(rows) + "]"


def _with_suffixes(text, suffixes, indent):
    parts = [text]
    last_line = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if last_line + len(suffix) + 2 > PRINT_OPTS.linewidth:
            parts.append(",\n" + " " * indent + suffix)
            last_line = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line += len(suffix) + 2
    return "".join(parts) + ")"


def format_tensor(arr, dtype_name, grad_fn_name, requires_grad, prefix="tensor("):
    """The repr of a tensor holding ``arr``; ``dtype_name`` as printed (e.g. 'cylayers.float64')."""
    indent = len(prefix)
    suffixes = []
    default_dtype = arr.dtype in (np.float32, np.int64, np.bool_)
    if arr.size == 0:
        if arr.ndim != 1:
            suffixes.append(f"size={tuple(arr.shape)}")
        if arr.dtype != np.float32:
            suffixes.append(f"dtype={dtype_name}")
        body = "[]"
    else:
        if arr.dtype == np.float16:
            arr = arr.astype(np.float32)
        summarize = arr.size > PRINT_OPTS.threshold
        fmt = _Formatter(_summarized(arr) if summarize else arr)
        body = _nested(arr, indent, summarize, fmt)
        if not default_dtype:
            suffixes.append(f"dtype={dtype_name}")
    if grad_fn_name is not None:
        suffixes.append(f"grad_fn=<{grad_fn_name}>")
    elif requires_grad:
        suffixes.append("requires_grad=True")
    return _with_suffixes(prefix + body, suffixes, indent)
