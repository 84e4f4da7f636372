"""cylayers.save / cylayers.load: nested state (dicts, lists, tensors, arrays, numbers, strings)
in an .npz archive (a zip of .npy members) whose structure is described by a JSON manifest.

Nothing in the format can execute code on load: arrays are read as raw .npy data (never
pickled objects) and the structure is plain JSON. Reading trusts nothing in the file: every
malformed file raises :class:`CheckpointError`, memory is bounded by what the file really holds
(a declared shape must match the member's bytes), and members are streamed straight into their
arrays, so loading peaks at about one checkpoint in memory, not two.

Writes go to a temporary file beside the destination (through a symlink, beside its target)
that is renamed over it, so a crash or Ctrl-C mid-save leaves the previous checkpoint intact
and no temporary file behind.
"""
import json
import math
import os
import stat
import tempfile
import zipfile
from collections import OrderedDict

import numpy as np

from cylayers._tensor import Tensor

_MANIFEST = "__cylayers_manifest__"
_FORMAT = "cylayers-checkpoint"
_VERSION = 1
# Deeper nesting than any real state needs; checked on save too, so whatever save writes loads.
MAX_DEPTH = 200
# Deflate cannot compress better than about 1032:1: a member claiming more is a zip bomb.
_MAX_DEFLATE_RATIO = 1100
_CHUNK = 1 << 20


class CheckpointError(ValueError):
    """The file is not a readable cylayers checkpoint."""


# ---------------------------------------------------------------- save
def _encode(obj, arrays, memo, depth=0):
    if depth > MAX_DEPTH:
        raise ValueError(f"cylayers.save: nesting deeper than {MAX_DEPTH} levels")
    if isinstance(obj, (Tensor, np.ndarray)):
        # One member per object: a tensor stored under two keys comes back as one tensor.
        key = memo.get(id(obj))
        if key is None:
            arr = obj._array if isinstance(obj, Tensor) else obj
            if arr.dtype.hasobject:
                raise TypeError("cylayers.save cannot store object arrays (they would need "
                                "pickle)")
            key = memo[id(obj)] = f"a{len(arrays)}"
            arrays[key] = arr
        if isinstance(obj, np.ndarray):
            return {"t": "ndarray", "ref": key}
        return {"t": "tensor", "ref": key, "requires_grad": bool(obj.requires_grad),
                "parameter": type(obj).__name__ == "Parameter"}
    if isinstance(obj, np.generic):
        return _encode(obj.item(), arrays, memo, depth)
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
            items.append([k, "int" if isinstance(k, int) else "str",
                          _encode(v, arrays, memo, depth + 1)])
        return {"t": "dict", "ordered": isinstance(obj, OrderedDict), "items": items}
    if isinstance(obj, (list, tuple)):
        return {"t": type(obj).__name__,
                "items": [_encode(v, arrays, memo, depth + 1) for v in obj]}
    raise TypeError(f"cylayers.save cannot store objects of type {type(obj).__name__}; "
                    "save tensors, arrays, numbers, strings and dicts/lists of them")


def _write_archive(fileobj, arrays):
    """An .npz archive (numpy's np.load reads it too), each array streamed into its member."""
    with zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for key, arr in arrays.items():
            with zf.open(key + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(arr, order="C"),
                                          allow_pickle=False)


def _current_umask():
    try:
        with open("/proc/self/status") as status:  # readable without changing it
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def save(obj, f):
    """Save ``obj`` to path ``f`` (atomically) or to a writable binary file object."""
    arrays = {}
    manifest = {"format": _FORMAT, "version": _VERSION, "root": _encode(obj, arrays, {})}
    arrays[_MANIFEST] = np.frombuffer(json.dumps(manifest).encode("utf-8"), dtype=np.uint8)
    if hasattr(f, "write"):
        _write_archive(f, arrays)
        return
    path = os.path.realpath(os.fspath(f))  # a symlink keeps pointing at the new checkpoint
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)  # an existing file keeps its permissions
    except FileNotFoundError:
        mode = 0o666 & ~_current_umask()  # a new one gets what open() would give it
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):  # PyTorch's words, and the user's path, not a temp file's
        raise RuntimeError(f"Parent directory {os.path.dirname(os.fspath(f)) or folder} does "
                           "not exist.")
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".cyl", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            _write_archive(out, arrays)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:  # Ctrl-C included: the temporary file never outlives the call
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


# ---------------------------------------------------------------- load
class _Archive:
    """Reads the members the manifest refers to, each once, checking it before allocating."""

    def __init__(self, zf, name):
        self.zf, self.name, self.cache = zf, name, {}

    def error(self, message):
        return CheckpointError(f"{self.name!s}: {message}")

    def array(self, key):
        if not isinstance(key, str):
            raise self.error(f"array reference {key!r} is not a string")
        if key not in self.cache:
            self.cache[key] = self._read(key)
        return self.cache[key]

    def _read(self, key):
        try:
            info = self.zf.getinfo(key + ".npy")
        except KeyError:
            raise self.error(f"the manifest refers to a missing array {key!r}") from None
        if info.flag_bits & 0x1:
            raise self.error(f"member {info.filename!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise self.error(f"member {info.filename!r} uses an unsupported compression "
                             f"(method {info.compress_type})")
        if (info.compress_type == zipfile.ZIP_DEFLATED
                and info.file_size > _MAX_DEFLATE_RATIO * max(info.compress_size, 1)):
            raise self.error(f"member {info.filename!r} claims an impossible compression ratio")
        with self.zf.open(info) as member:
            try:
                version = np.lib.format.read_magic(member)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, fortran_order, dtype = read_header(member)
            except ValueError as e:
                raise self.error(f"member {info.filename!r} is not an .npy array: {e}") from None
            if dtype.hasobject:
                raise self.error(f"member {info.filename!r} holds Python objects (pickled); "
                                 "they are never loaded")
            nbytes = math.prod(shape) * dtype.itemsize
            if nbytes != info.file_size - member.tell():
                raise self.error(f"member {info.filename!r} declares shape {shape} of {dtype} "
                                 f"({nbytes} bytes) but holds {info.file_size - member.tell()}")
            arr = np.empty(shape, dtype=dtype, order="F" if fortran_order else "C")
            buf = arr.reshape(-1, order="A").view(np.uint8)
            filled = 0
            while filled < nbytes:  # in chunks: a single read would hold a second full copy
                chunk = member.read(min(_CHUNK, nbytes - filled))
                if not chunk:
                    raise self.error(f"member {info.filename!r} is truncated")
                buf[filled:filled + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
                filled += len(chunk)
            member.read(1)  # reaching the end makes zipfile verify the CRC
        if not dtype.isnative:
            arr = arr.astype(dtype.newbyteorder("="))
        return arr


def _expect(cond, archive, message):
    if not cond:
        raise archive.error(message)


def _decode(node, archive, tensors, depth=0):
    _expect(depth <= MAX_DEPTH, archive, f"the manifest nests deeper than {MAX_DEPTH} levels")
    _expect(isinstance(node, dict) and isinstance(node.get("t"), str), archive,
            f"malformed manifest entry {str(node)[:80]!r}")
    kind = node["t"]
    if kind == "tensor":
        ref = node.get("ref")
        if ref not in tensors:  # the same member under two keys is one tensor
            arr = archive.array(ref)
            requires_grad = node.get("requires_grad", False) is True
            if node.get("parameter") is True:
                from cylayers.nn.parameter import Parameter
                t = Parameter(Tensor._make(arr), requires_grad=requires_grad)
            else:
                t = Tensor._make(arr)
                if requires_grad:
                    t.requires_grad_(True)
            tensors[ref] = t
        return tensors[ref]
    if kind == "ndarray":
        return archive.array(node.get("ref"))
    if kind == "value":
        v = node.get("v")
        _expect(v is None or isinstance(v, (bool, str)), archive, f"malformed value {v!r}")
        return v
    if kind in ("int", "float"):
        v = node.get("v")
        _expect(isinstance(v, str), archive, f"malformed number {v!r}")
        try:
            return int(v) if kind == "int" else float(v)
        except ValueError:
            raise archive.error(f"malformed number {v!r}") from None
    items = node.get("items")
    _expect(isinstance(items, list), archive, f"malformed {kind} entry")
    if kind == "dict":
        out = OrderedDict() if node.get("ordered") is True else {}
        for item in items:
            _expect(isinstance(item, list) and len(item) == 3 and item[1] in ("int", "str"),
                    archive, f"malformed dict item {str(item)[:80]!r}")
            k, ktype, v = item
            try:
                key = int(k) if ktype == "int" else k
            except (TypeError, ValueError):
                raise archive.error(f"malformed dict key {k!r}") from None
            _expect(isinstance(key, (int, str)), archive, f"malformed dict key {k!r}")
            out[key] = _decode(v, archive, tensors, depth + 1)
        return out
    if kind in ("list", "tuple"):
        values = [_decode(v, archive, tensors, depth + 1) for v in items]
        return values if kind == "list" else tuple(values)
    raise archive.error(f"unknown entry kind {kind!r} in the manifest")


_FROM_PYTORCH = ("To use PyTorch weights, load them where PyTorch is installed and hand over "
                 "the arrays: model.load_state_dict({k: v.numpy() for k, v in "
                 "torch.load(path).items()}), or numpy.savez('weights.npz', **{k: v.numpy() "
                 "for k, v in torch.load(path).items()}) there and "
                 "model.load_state_dict(dict(numpy.load('weights.npz'))) here")


def load(f, weights_only=True, map_location=None):
    """Load what :func:`save` wrote (``weights_only`` and ``map_location`` are accepted for
    PyTorch compatibility: nothing else can be loaded, and everything lives on the CPU).
    Never unpickles: a foreign, corrupt or hostile file raises :class:`CheckpointError`."""
    name = getattr(f, "name", "<file>") if hasattr(f, "read") else os.fspath(f)
    source = f if hasattr(f, "read") else open(name, "rb")
    try:
        start = source.tell()
        head = source.read(4)
        source.seek(start)
        if head[:1] == b"\x80":  # a pickle: PyTorch's legacy format, or pickle.dump's
            raise CheckpointError(f"{name!s} is a pickled file (an old PyTorch checkpoint?), "
                                  "not a cylayers checkpoint: cylayers never unpickles. "
                                  + _FROM_PYTORCH)
        if not head.startswith(b"PK"):
            raise CheckpointError(f"{name!s} is not a cylayers checkpoint (not a zip/npz "
                                  "archive; pickled files are never loaded)")
        try:
            with zipfile.ZipFile(source) as zf:
                archive = _Archive(zf, name)
                names = zf.namelist()
                if _MANIFEST + ".npy" not in names:
                    if any(n.endswith("data.pkl") for n in names):
                        raise CheckpointError(f"{name!s} is a PyTorch checkpoint "
                                              "(torch.save), not a cylayers one: cylayers "
                                              "never unpickles. " + _FROM_PYTORCH)
                    raise CheckpointError(f"{name!s} is an npz archive but not a cylayers "
                                          "checkpoint (no manifest)")
                raw = archive.array(_MANIFEST)
                _expect(raw.dtype == np.uint8 and raw.ndim == 1, archive, "malformed manifest")
                manifest = json.loads(raw.tobytes().decode("utf-8"))
                _expect(isinstance(manifest, dict), archive,
                        f"the manifest is a {type(manifest).__name__}, not an object")
                if manifest.get("format") != _FORMAT:
                    raise archive.error(f"unknown format {manifest.get('format')!r}")
                version = manifest.get("version", 0)
                _expect(isinstance(version, int), archive, f"malformed version {version!r}")
                if version > _VERSION:
                    raise archive.error(f"written by a newer cylayers (format version "
                                        f"{version})")
                return _decode(manifest.get("root"), archive, {})
        except CheckpointError:
            raise
        except RecursionError:
            raise CheckpointError(f"{name!s}: the manifest nests too deeply") from None
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, KeyError, OSError,
                EOFError, UnicodeDecodeError, TypeError, NotImplementedError, RuntimeError,
                MemoryError) as e:
            raise CheckpointError(f"{name!s} is corrupt or not a cylayers checkpoint: "
                                  f"{type(e).__name__}: {e}") from None
    finally:
        if source is not f:
            source.close()
