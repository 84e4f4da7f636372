"""Whether other processes keep this process's cores busy, so kernels leave those cores alone.

An OpenMP region waits for its slowest thread. When another process is running on one of our
cores, the thread placed there waits for the scheduler to give it a slice, and every parallel
region costs a scheduling delay instead of saving time: a small training step can get several
times slower on 2 threads than on 1. Every ``INTERVAL`` seconds (checked when a kernel asks,
never by a thread of its own) two things are read:

- contention: how long this process's threads waited, runnable, for a core (the scheduler's
  run-queue time in ``/proc/self/task/*/schedstat``);
- the others' load: the busy time of this process's cores in ``/proc/stat`` less this process's
  own CPU time.

The kernels' threads are capped at the cores the others leave free once our threads were seen
waiting for cores a quarter of the time; the cap holds for a few seconds, then every thread is
tried again. Another process that is busy only while this one idles (a benchmark's other
library, a data-loading process between steps) makes no thread wait, and caps nothing.

Linux only (elsewhere nothing is capped); ``CYLAYERS_FOLLOW_LOAD=0`` turns it off. Results do
not depend on it: every kernel gives the same bits for any thread count.
"""
import os
import time

# Long enough that /proc/stat's clock ticks (10 ms per core) average out, short enough that a
# neighbour which starts or stops is followed within a second.
INTERVAL = 0.5
_PROC_STAT = "/proc/stat"
_TASKS = "/proc/self/task"
# Our threads waiting for a core this much of the time, on average, is contention: a process
# alone on its cores waits ~0.002 threads (wake-ups), and a few ms more when another process's
# OpenMP threads are still spinning down as ours start (a benchmark alternating libraries);
# beside a process spinning on one core, 2 threads running a small training step waited 0.69.
CONTENDED_WAITING = 0.25
# A cap holds this many intervals, then the kernels try every thread again: the neighbour may
# have gone. Beside one that stays, one interval in HOLD_INTERVALS + 1 runs contended.
HOLD_INTERVALS = 8
# /proc/stat's columns after the name: user nice system idle iowait irq softirq steal. Stolen time
# is a core the hypervisor gave to someone else: busy for us. Time of processes with a lower
# priority (nice) is not: the scheduler runs our threads first, so they delay no region.
_BUSY_COLUMNS = (0, 2, 5, 6, 7)
_NICE_COLUMN = 1


def busy_seconds(stat_text, cores, count_nice=False):
    """Seconds the given cores have spent busy since boot, from the text of /proc/stat
    (``count_nice``: the time of niced processes too, as when this process is niced itself)."""
    columns = _BUSY_COLUMNS + (_NICE_COLUMN,) if count_nice else _BUSY_COLUMNS
    ticks = 0
    for line in stat_text.splitlines():
        if not line.startswith("cpu") or line[3:4] == " ":
            continue
        name, *fields = line.split()
        if int(name[3:]) in cores:
            ticks += sum(int(fields[i]) for i in columns if i < len(fields))
    return ticks / _CLOCK_TICKS


def free_cores(cores, others_busy):
    """Cores left to this process when other processes keep ``others_busy`` cores busy (a
    fraction of a core rounds to the nearer whole core), never fewer than one."""
    return max(1, min(cores, int(cores - others_busy + 0.5)))


def _read_stat():
    with open(_PROC_STAT) as f:
        return f.read()


def waiting_seconds():
    """Seconds this process's threads have spent runnable but waiting for a core."""
    total = 0
    for tid in os.listdir(_TASKS):
        try:
            with open(f"{_TASKS}/{tid}/schedstat") as f:
                total += int(f.read().split()[1])
        except (OSError, IndexError, ValueError):  # a thread that just ended
            continue
    return total / 1e9


def _enabled():
    if os.environ.get("CYLAYERS_FOLLOW_LOAD", "1") == "0" or not hasattr(os, "sched_getaffinity"):
        return False
    try:
        _read_stat()
        with open("/proc/self/schedstat") as f:
            f.read()
    except OSError:
        return False
    return True


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _sample():
    """(wall clock, this process's CPU seconds, its cores' busy seconds, its threads' waiting
    seconds, its core count)."""
    cores = os.sched_getaffinity(0)
    niced = os.getpriority(os.PRIO_PROCESS, 0) > 0
    return (time.monotonic(), time.process_time(),
            busy_seconds(_read_stat(), cores, count_nice=niced), waiting_seconds(), len(cores))


class LoadWatch:
    """The cap on kernel threads, refreshed from the machine's load at most every INTERVAL s."""

    def __init__(self, enabled=None, sample=_sample):
        self.enabled = _enabled() if enabled is None else enabled
        self._sample = sample
        self.cap = None  # None: no cap (not measured yet, or not measurable here)
        self._held = 0
        self._next = 0.0
        self._last = None
        self.restart()

    def restart(self):
        """Start measuring afresh (a forked child's CPU time starts again from zero)."""
        self.cap = None
        if self.enabled:
            self._last = self._sample()
            self._next = self._last[0] + INTERVAL

    def thread_cap(self):
        """The most threads a kernel should use now (None: as many as it likes)."""
        if self.enabled and time.monotonic() >= self._next:
            self._refresh()
        return self.cap

    def _refresh(self):
        try:
            now = self._sample()
        except OSError:
            self.enabled, self.cap = False, None
            return
        wall, ours, busy, waiting = (a - b for a, b in zip(now[:4], self._last[:4]))
        cores = now[4]
        self._last, self._next = now, now[0] + INTERVAL
        if wall <= 0:
            return
        if self.cap is not None:
            self._held += 1
            if self._held >= HOLD_INTERVALS:
                self.cap = None
            return
        if waiting / wall < CONTENDED_WAITING:
            return
        free = free_cores(cores, max(0.0, (busy - ours) / wall))
        if free < cores:
            self.cap, self._held = free, 0
