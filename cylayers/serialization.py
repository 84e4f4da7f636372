"""cylayers.save / cylayers.load: nested state (dicts, lists, tensors, arrays, numbers, strings)
in an .npz archive whose structure is described by a JSON manifest.

Nothing in the format can execute code on load: arrays are read with ``allow_pickle=False`` and
the structure is plain JSON. Writes go to a temporary file in the target folder that is then
renamed over the destination, so a crash mid-save leaves the previous checkpoint intact.
"""
import io
import json
import os
import tempfile
import zipfile
from collections import OrderedDict

import numpy as np

from cylayers._tensor import Tensor

_MANIFEST = "__cylayers_manifest__"
_FORMAT = "cylayers-checkpoint"
_VERSION = 1


class CheckpointError(RuntimeError):
    """The file is not a readable cylayers checkpoint."""


def _c_order(arr):
    # Not np.ascontiguousarray: that turns 0-d arrays (e.g. num_batches_tracked) into 1-d.
    return np.asarray(arr, order="C")


def _encode(obj, arrays):
    if isinstance(obj, Tensor):
        key = f"a{len(arrays)}"
        arrays[key] = _c_order(obj._array)
        return {"t": "tensor", "ref": key, "requires_grad": bool(obj.requires_grad),
                "parameter": type(obj).__name__ == "Parameter"}
    if isinstance(obj, np.ndarray):
        if obj.dtype.hasobject:
            raise TypeError("cylayers.save cannot store object arrays (they would need pickle)")
        key = f"a{len(arrays)}"
        arrays[key] = _c_order(obj)
        return {"t": "ndarray", "ref": key}
    if isinstance(obj, np.generic):
        return _encode(obj.item(), arrays)
    if obj is None or isinstance(obj, (bool, str)):
        return {"t": "value", "v": obj}
    if isinstance(obj, int):
        return {"t": "int", "v": str(obj)}
    if isinstance(obj, float):
        return {"t": "float", "v": repr(obj)}
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if isinstance(k, bool) or not isinstance(k, (str, int)):
                raise TypeError(f"cylayers.save: dict keys must be str or int, got {k!r}")
            items.append([k, "int" if isinstance(k, int) else "str", _encode(v, arrays)])
        return {"t": "dict", "ordered": isinstance(obj, OrderedDict), "items": items}
    if isinstance(obj, (list, tuple)):
        return {"t": type(obj).__name__, "items": [_encode(v, arrays) for v in obj]}
    raise TypeError(f"cylayers.save cannot store objects of type {type(obj).__name__}; "
                    "save tensors, arrays, numbers, strings and dicts/lists of them")


def _decode(node, archive):
    kind = node["t"]
    if kind == "tensor":
        arr = archive[node["ref"]]
        if node.get("parameter"):
            from cylayers.nn.parameter import Parameter
            return Parameter(arr, requires_grad=node["requires_grad"])
        t = Tensor._make(arr)
        if node["requires_grad"]:
            t.requires_grad_(True)
        return t
    if kind == "ndarray":
        return archive[node["ref"]]
    if kind == "value":
        return node["v"]
    if kind == "int":
        return int(node["v"])
    if kind == "float":
        return float(node["v"])
    if kind == "dict":
        out = OrderedDict() if node.get("ordered") else {}
        for k, ktype, v in node["items"]:
            out[int(k) if ktype == "int" else k] = _decode(v, archive)
        return out
    if kind in ("list", "tuple"):
        items = [_decode(v, archive) for v in node["items"]]
        return items if kind == "list" else tuple(items)
    raise CheckpointError(f"unknown entry kind {kind!r} in the manifest")


def save(obj, f):
    """Save ``obj`` to path ``f`` (atomically) or to a writable binary file object."""
    arrays = {}
    manifest = {"format": _FORMAT, "version": _VERSION, "root": _encode(obj, arrays)}
    arrays[_MANIFEST] = np.frombuffer(json.dumps(manifest).encode("utf-8"), dtype=np.uint8)
    if hasattr(f, "write"):
        np.savez(f, **arrays)
        return
    path = os.fspath(f)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".cyl", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            np.savez(out, **arrays)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(f, weights_only=True, map_location=None):
    """Load what :func:`save` wrote. Never unpickles: a foreign or corrupt file raises
    :class:`CheckpointError`."""
    name = getattr(f, "name", f) if hasattr(f, "read") else os.fspath(f)
    if hasattr(f, "read"):
        data = f.read()
    else:
        with open(name, "rb") as fh:
            data = fh.read()
    if not data.startswith(b"PK"):
        raise CheckpointError(f"{name!s} is not a cylayers checkpoint (not a zip/npz archive; "
                              "pickled files are never loaded)")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            if _MANIFEST not in archive.files:
                raise CheckpointError(f"{name!s} is an npz archive but not a cylayers "
                                      "checkpoint (no manifest)")
            manifest = json.loads(archive[_MANIFEST].tobytes().decode("utf-8"))
            if manifest.get("format") != _FORMAT:
                raise CheckpointError(f"{name!s}: unknown format {manifest.get('format')!r}")
            if manifest.get("version", 0) > _VERSION:
                raise CheckpointError(f"{name!s} was written by a newer cylayers (format "
                                      f"version {manifest['version']})")
            cache = {}

            class _Arrays:
                def __getitem__(self, key):
                    if key not in cache:
                        cache[key] = archive[key]
                    return cache[key]
            return _decode(manifest["root"], _Arrays())
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, ValueError, KeyError, OSError, EOFError,
            json.JSONDecodeError, UnicodeDecodeError, TypeError) as e:
        raise CheckpointError(f"{name!s} is corrupt or not a cylayers checkpoint: {e}") from None
