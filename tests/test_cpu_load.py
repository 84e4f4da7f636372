"""Kernels leave the cores that other processes keep busy (cylayers/_cpu_load.py)."""
import os
import subprocess
import sys
import textwrap

import pytest

from cylayers import _cpu_load, _threads

STAT = """cpu  900 50 300 5000 10 0 5 7 0 0
cpu0 100 0 50 1000 5 0 1 2 0 0
cpu1 200 40 50 1000 5 0 2 3 0 0
cpu12 600 10 200 3000 0 0 2 2 0 0
intr 12345
"""


def test_busy_seconds_sums_the_busy_columns_of_the_given_cores():
    ticks = os.sysconf("SC_CLK_TCK")
    # user + system + irq + softirq + steal; idle and iowait are not busy
    assert _cpu_load.busy_seconds(STAT, {0}) == pytest.approx((100 + 50 + 0 + 1 + 2) / ticks)
    assert _cpu_load.busy_seconds(STAT, {1, 12}) == pytest.approx(
        (200 + 50 + 2 + 3 + 600 + 200 + 2 + 2) / ticks)
    # niced time counts only when asked (this process niced itself)
    assert _cpu_load.busy_seconds(STAT, {1}, count_nice=True) == pytest.approx(
        (200 + 40 + 50 + 2 + 3) / ticks)
    assert _cpu_load.busy_seconds(STAT, {5}) == 0


@pytest.mark.parametrize("cores, others, free", [
    (2, 0.0, 2), (2, 0.3, 2), (2, 0.7, 1), (2, 1.0, 1), (2, 2.0, 1), (2, 5.0, 1),
    (16, 4.0, 12), (16, 0.49, 16), (1, 0.0, 1)])
def test_free_cores_rounds_the_others_load(cores, others, free):
    assert _cpu_load.free_cores(cores, others) == free


def _fake_samples(rows):
    """A sampler replaying (wall, ours, busy, waiting, cores) rows; wall times start at 0, so
    every thread_cap call is due for a refresh."""
    it = iter(rows)
    return lambda: next(it)


def test_cap_follows_contention_and_is_tried_again_after_a_while():
    hold = _cpu_load.HOLD_INTERVALS
    rows = [(0.0, 0.0, 0.0, 0.0, 2),
            (1.0, 2.0, 2.0, 0.0, 2),    # both cores busy, all of it ours: no cap
            (2.0, 2.0, 3.0, 0.0, 2),    # another process busy while we idled: no one waited
            (3.0, 3.0, 4.0, 0.01, 2),   # a neighbour's threads spinning down as ours start
            (4.0, 4.0, 6.0, 0.51, 2)]   # our threads waited for cores, one is the other's
    # (the samples are running totals: each interval, one core ours, one the neighbour's)
    rows += [(5.0 + i, 5.0 + i, 8.0 + 2 * i, 0.51, 2) for i in range(hold)]  # capped, held
    rows += [(5.0 + hold, 5.0 + hold, 8.0 + 2 * hold, 1.01, 2)]  # contended again: capped
    watch = _cpu_load.LoadWatch(enabled=True, sample=_fake_samples(rows))
    assert watch.cap is None
    caps = [watch.thread_cap() for _ in range(len(rows) - 1)]
    assert caps == [None, None, None, 1] + [1] * (hold - 1) + [None, 1]


def test_waiting_seconds_reads_this_process_threads():
    assert _cpu_load.waiting_seconds() >= 0


def test_disabled_watch_never_caps():
    watch = _cpu_load.LoadWatch(enabled=False, sample=lambda: 1 / 0)
    assert watch.thread_cap() is None


def test_the_variable_turns_it_off(monkeypatch):
    monkeypatch.setenv("CYLAYERS_FOLLOW_LOAD", "0")
    assert _cpu_load.LoadWatch().enabled is False


def test_threads_for_obeys_the_cap(monkeypatch):
    before = _threads.get_num_threads()
    try:
        _threads.set_num_threads(2)
        monkeypatch.setattr(_threads._load, "thread_cap", lambda: 1)
        assert _threads.threads_for(1 << 24) == 1
        monkeypatch.setattr(_threads._load, "thread_cap", lambda: None)
        assert _threads.threads_for(1 << 24) == min(2, _threads.get_num_threads())
    finally:
        _threads.set_num_threads(before)


def test_a_process_spinning_on_one_of_two_cores_takes_the_second_thread_away():
    cores = sorted(os.sched_getaffinity(0))[:2]
    spinner = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import os
        os.sched_setaffinity(0, {{{cores[0]}}})
        while True:
            pass""")])
    code = textwrap.dedent(f"""
        import os, time
        os.sched_setaffinity(0, {set(cores)!r})
        import cylayers
        from cylayers import _threads
        cylayers.set_num_threads(2)
        _threads._load.restart()
        x = cylayers.randn(1 << 20)
        caps = []
        end = time.monotonic() + 3
        while time.monotonic() < end:  # parallel kernels, as long as two sampling intervals
            cylayers.nn.functional.gelu(x)
            caps.append(_threads._load.cap)
        print(caps[-1], _threads.threads_for(1 << 24))""")
    try:
        env = dict(os.environ, CYLAYERS_FOLLOW_LOAD="1")
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True).stdout.split()
    finally:
        spinner.kill()
        spinner.wait()
    assert out == ["1", "1"]
