"""The process group: joining and leaving the MPI job, and the guard around every collective.

MPI itself never gives up: a rank waiting in a collective that another rank never enters waits
forever, and two ranks that enter different collectives on the same buffers exchange garbage.
So every collective here
  1. first agrees on what is being called (operation, shapes, dtypes, root) with one small
     allreduce, and raises the same error on every rank when the calls differ;
  2. runs non-blocking, and its wait gives up after the group's timeout (PyTorch's default,
     30 minutes), aborting the job with a message naming the rank, the collective and the wait;
  3. notices, while it waits, that another rank has left the job (returned from the script,
     sys.exit, destroy_process_group) and aborts instead of waiting for it.
Leaving is announced on a communicator of its own: each leaving rank sends every other rank a
notice, then waits in a barrier for all of them; once everyone is there the notices are
collected and the job ends cleanly.
"""
import atexit
import datetime
import os
import sys
import time
import traceback
import zlib

import numpy as np

DEFAULT_TIMEOUT = datetime.timedelta(minutes=30)
_LEAVING_TAG = 7301
# After a rank's leaving notice arrives, a collective it did take part in may still need a few
# polls to complete locally; only one still incomplete after this long waits on a rank gone.
_GRACE_SECONDS = 2.0
# Waits poll without sleeping this long (a sleep costs a step its length at every collective,
# and most waits are shorter), then back off to sleeps of up to 1 ms, to leave the core to others.
_SPIN_SECONDS = 0.1
# Time for MPI's launcher to forward a dying rank's last words before MPI_Abort kills the job.
_LAST_WORDS_SECONDS = 1.0


class _Group:
    def __init__(self, comm, control, timeout):
        self.comm, self.control = comm, control
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.timeout = timeout
        self.wait_seconds = 0.0  # time spent waiting for collectives (the benchmark reads it)


_state = {"group": None, "previous_excepthook": None, "atexit": False}


def mpi():
    try:
        from mpi4py import MPI
    except ImportError:
        raise ImportError("cylayers.distributed needs mpi4py and an MPI implementation: "
                          "pip install 'cylayers[mpi]' (mpi4py and the mpich wheel, which "
                          "brings mpiexec)") from None
    return MPI


def group():
    g = _state["group"]
    if g is None:
        raise RuntimeError("Default process group has not been initialized, please make sure "
                           "to call cylayers.distributed.init_process_group(\"mpi\")")
    return g


def is_initialized():
    return _state["group"] is not None


def _timeout_seconds(timeout):
    if timeout is None:
        timeout = DEFAULT_TIMEOUT
    if not isinstance(timeout, datetime.timedelta):
        raise TypeError(f"Expected timeout argument to be of type datetime.timedelta, got "
                        f"{type(timeout).__name__}")
    seconds = timeout.total_seconds()
    if seconds <= 0:
        raise ValueError(f"timeout must be positive, got {timeout}")
    return seconds


def join(timeout):
    MPI = mpi()
    world = MPI.COMM_WORLD
    # Communicators of our own: a user's mpi4py calls on COMM_WORLD never match ours.
    _state["group"] = _Group(world.Dup(), world.Dup(), _timeout_seconds(timeout))
    _state["previous_excepthook"] = sys.excepthook
    sys.excepthook = _abort_on_uncaught
    if not _state["atexit"]:
        atexit.register(_leave_at_exit)
        _state["atexit"] = True


def leave():
    """Announce that this rank is done and wait until every rank is (destroy_process_group)."""
    g = _state["group"]
    if g is None:
        return
    if g.size > 1:
        MPI = mpi()
        notice = np.asarray([g.rank], dtype=np.int64)
        sends = [g.control.Isend(notice, dest=r, tag=_LEAVING_TAG)
                 for r in range(g.size) if r != g.rank]
        wait(g.control.Ibarrier(), "destroy_process_group (waiting for every rank to finish)",
             watch_leavers=False)
        received = np.empty(1, dtype=np.int64)
        for r in range(g.size):
            if r != g.rank:
                g.control.Recv(received, source=r, tag=_LEAVING_TAG)
        MPI.Request.Waitall(sends)
    g.comm.Free()
    g.control.Free()
    if _state["previous_excepthook"] is not None:
        sys.excepthook = _state["previous_excepthook"]
    _state["group"] = None
    _state["previous_excepthook"] = None


def _leave_at_exit():
    # A script that ends (or calls sys.exit) without destroy_process_group: the other ranks
    # learn it, rather than waiting for this rank in their next collective.
    if _state["group"] is not None:
        leave()


def abort(message):
    """Write ``message`` in one piece, give the launcher a moment to forward it, end the job."""
    g = _state["group"]
    _write_stderr(message if message.endswith("\n") else message + "\n")
    time.sleep(_LAST_WORDS_SECONDS)
    (g.comm if g is not None else mpi().COMM_WORLD).Abort(1)


def _write_stderr(text):
    try:
        sys.stderr.flush()
    except Exception:
        pass
    data = text.encode("utf-8", "replace")
    while data:  # one write call as far as the pipe takes it, so lines from ranks do not mix
        written = os.write(2, data)
        data = data[written:]


def _abort_on_uncaught(exc_type, exc, tb):
    g = _state["group"]
    previous = _state["previous_excepthook"]
    if g is None or g.size == 1:
        (previous or sys.__excepthook__)(exc_type, exc, tb)
        return
    if previous not in (None, sys.__excepthook__):
        previous(exc_type, exc, tb)
        report = ""
    else:
        report = "".join(traceback.format_exception(exc_type, exc, tb))
    abort(f"{report}cylayers.distributed: rank {g.rank} failed; aborting the job so the "
          "other ranks do not wait forever")


def _leaver(g):
    """The rank whose leaving notice is waiting here, or None."""
    MPI = mpi()
    status = MPI.Status()
    if g.control.Iprobe(source=MPI.ANY_SOURCE, tag=_LEAVING_TAG, status=status):
        return status.Get_source()
    return None


def wait(request, what, watch_leavers=True):
    """Wait for ``request`` until it completes, the group's timeout passes (abort), or another
    rank has left the job while this one still needs it (abort)."""
    g = group()
    start = time.monotonic()
    if request.Test():
        g.wait_seconds += time.monotonic() - start
        return
    deadline = start + g.timeout
    left, left_at, pause, polls = None, None, 0.0, 0
    while not request.Test():
        now = time.monotonic()
        if watch_leavers and left is None and polls % 16 == 0:
            left = _leaver(g)
            left_at = now
        if left is not None and now - left_at > _GRACE_SECONDS:
            abort(f"cylayers.distributed: rank {left} left the job (its script returned, "
                  f"called sys.exit or destroy_process_group) while rank {g.rank} waits for it "
                  f"in {what}; aborting the job")
        if now > deadline:
            abort(f"cylayers.distributed: rank {g.rank} waited {now - start:.1f} s in {what} "
                  f"(the process group's timeout is {g.timeout:g} s): another rank is not "
                  "taking part; aborting the job")
        polls += 1
        if now - start > _SPIN_SECONDS:
            pause = min(1e-3, pause * 2 or 2e-5)
            time.sleep(pause)
    g.wait_seconds += time.monotonic() - start


def describe(arrays):
    return ", ".join(f"{tuple(a.shape)} {a.dtype}" for a in arrays)


def agree(call):
    """Every rank states ``call`` (a string naming the collective and its operands); if they
    differ, every rank raises the same RuntimeError listing each rank's call."""
    g = group()
    if g.size == 1:
        return
    MPI = mpi()
    digest = zlib.crc32(call.encode())
    mine = np.asarray([digest, -digest], dtype=np.int64)
    highest = np.empty_like(mine)
    wait(g.comm.Iallreduce(mine, highest, op=MPI.MAX),
         f"{call.split('(')[0]} (agreeing on the call with the other ranks)")
    if highest[0] == digest and highest[1] == -digest:
        return
    calls = g.comm.allgather(call)
    lines = "; ".join(f"rank {r}: {c}" for r, c in enumerate(calls))
    names = {c.split("(")[0] for c in calls}
    what = f"{calls[0].split('(')[0]}: the ranks' calls differ in shape, dtype, op or root" \
        if len(names) == 1 else "the ranks called different collectives"
    raise RuntimeError(f"cylayers.distributed: {what} ({lines})")


def verify_same(what, entries):
    """Every rank holds the same ``entries`` (name, description) pairs, or every rank raises
    the same RuntimeError naming the first entry that differs and what each rank has."""
    g = group()
    if g.size == 1:
        return
    text = "\n".join(f"{name}: {desc}" for name, desc in entries)
    try:
        agree(f"{what}({zlib.crc32(text.encode())})")
        return
    except RuntimeError:
        pass
    everyone = [dict(e) for e in g.comm.allgather(list(entries))]
    names = []
    for rank_entries in everyone:
        names += [n for n in rank_entries if n not in names]
    for name in names:
        seen = [e.get(name, "missing") for e in everyone]
        if len(set(seen)) > 1:
            ranks = "; ".join(f"rank {r}: {d}" for r, d in enumerate(seen))
            raise RuntimeError(f"cylayers.distributed: {what}: the ranks differ in {name!r} "
                               f"({ranks}); every rank must build the same model")
    raise RuntimeError(f"cylayers.distributed: {what}: the ranks list the same entries in "
                       "different orders; every rank must build the same model")
