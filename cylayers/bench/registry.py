"""Benchmark cases: each builds, for one library, a zero-argument callable per mode."""
from dataclasses import dataclass, field

CASES = []


@dataclass
class Case:
    name: str
    group: str
    # build(lib_name, dtype) -> {"fwd": callable, "fwd+bwd": callable} or None if unsupported
    build: callable
    bytes_moved: int = 0   # for bandwidth figures (fwd+bwd), 0 when not meaningful
    ops: int = 1           # work units per call (e.g. ops in the autograd chain)
    note: str = ""
    tags: tuple = field(default_factory=tuple)


def register(name, group, bytes_moved=0, ops=1, note="", tags=()):
    def deco(build):
        CASES.append(Case(name, group, build, bytes_moved, ops, note, tuple(tags)))
        return build
    return deco
