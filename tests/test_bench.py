"""The benchmark harness runs end to end (numbers are not asserted: timings never are)."""
from cylayers.bench.__main__ import format_table, main, run
from cylayers.bench.registry import CASES


def test_registry_has_the_foundation_cases():
    names = [c.name for c in CASES]
    assert any("autograd overhead" in n for n in names)
    assert any(n.startswith("Linear") for n in names)


def test_quick_run_writes_markdown(tmp_path, capsys):
    assert main(["--quick", "--filter", "ReLU on", "--repeats", "1", "--out", str(tmp_path)]) == 0
    table = (tmp_path / "results.md").read_text()
    assert "| ReLU on (20,64,32,32) | fwd+bwd |" in table
    rows, threads = run("autograd overhead", quick=True)
    assert {r["mode"] for r in rows} == {"fwd", "fwd+bwd"}
    assert all(r["t_cylayers"] > 0 and r["t_torch"] > 0 for r in rows)
    assert "per op" in format_table(rows, threads)


def test_each_library_runs_in_its_own_process_and_epochs_report_peak_memory():
    from cylayers.bench.__main__ import Worker
    case = "Linear(512,256) on (256,512)"
    for lib, other in (("torch", "cylayers._kernels"), ("cylayers", "torch")):
        w = Worker(lib, 1)
        try:
            assert "modes" in w.ask(op="build", case=case, dtype="float32")
            loaded = w.ask(op="loaded")
        finally:
            w.close()
        assert loaded[other] is False, (lib, loaded)  # never both libraries in one process
    rows, threads = run("digits CNN", threads=2, quick=True, libraries=["cylayers", "torch"])
    epoch = [r for r in rows if r["mode"] == "epoch" and r["group"] == "epoch"]
    assert epoch and epoch[0]["t_cylayers"] > 0 and epoch[0]["t_torch"] > 0
    assert set(epoch[0]["peak"]) == {"cylayers", "torch"}
    table = format_table(rows, threads)
    assert "peak MB" in table and "below 1.00x means cylayers is faster" in table


def test_epoch_peaks_are_measured_in_fresh_processes(monkeypatch):
    """A worker that ran other cases keeps their freed memory in its heap: each library's epoch
    peak comes from a process of its own, started for it and closed after."""
    import cylayers.bench.__main__ as bench_main
    made = []

    class FakeWorker:
        def __init__(self, lib, threads):
            self.lib, self.asked, self.closed = lib, [], False
            made.append(self)

        def ask(self, **request):
            self.asked.append(request["op"])
            return {"bytes": 123} if request["op"] == "peak" else {}

        def close(self):
            self.closed = True

    monkeypatch.setattr(bench_main, "Worker", FakeWorker)
    peaks = bench_main._epoch_peaks(["cylayers", "torch"], "some epoch", 2, "float32")
    assert peaks == {"cylayers": 123, "torch": 123}
    assert [w.lib for w in made] == ["cylayers", "torch"]
    assert all(w.asked == ["build", "peak"] and w.closed for w in made)


def test_times_print_with_a_few_significant_digits_and_the_threads_row_follows_epoch():
    from cylayers.bench.__main__ import THREADS_CASE, milliseconds
    assert [milliseconds(v) for v in (1234.5678, 45.678, 3.14159, 0.12345, 0.001234)] == \
        ["1235", "45.7", "3.14", "0.123", "0.0012"]
    assert "epoch" in THREADS_CASE  # --filter epoch keeps the 1-vs-N threads row


def test_busy_neighbour_row_times_one_and_n_threads_beside_a_spinning_process(monkeypatch):
    import subprocess
    import cylayers.bench.__main__ as bench_main
    started = []
    real_popen = subprocess.Popen

    def recording_popen(*args, **kwargs):
        started.append(real_popen(*args, **kwargs))
        return started[-1]
    monkeypatch.setattr(bench_main.subprocess, "Popen", recording_popen)
    rows, threads = run("neighbour", threads=2, quick=True, libraries=["cylayers", "torch"])
    plain, loaded = rows
    assert plain["mode"] == "step" and plain["t_cylayers"] > 0 and plain["t_torch"] > 0
    assert loaded["case"].startswith("busy neighbour: tiny CNN")
    assert loaded["t_cylayers"] > 0 and loaded["t_one_thread"] > 0 and loaded["t_torch"] > 0
    spinners = [p for p in started if "while True: pass" in p.args]
    assert len(spinners) == 1 and spinners[0].poll() is not None  # the spinner is gone
    assert "2 threads take" in format_table(rows, threads)


def test_thread_plan_tabulates_the_cost_models_picks_at_other_core_counts(tmp_path):
    """Each row's thread-count decisions, answered again for 2, 16 and 64 cores: never more
    threads than cores, never fewer with more cores, and threads_for left as it was."""
    from cylayers import _threads
    from cylayers.bench import thread_plan
    from cylayers.nn.functional import normalization
    real = _threads.threads_for
    out = tmp_path / "plan.md"
    thread_plan.main(["--filter", "epoch: digits CNN", "--out", str(out)])
    assert normalization.threads_for is real and _threads.threads_for is real
    rows = [line for line in out.read_text().splitlines() if line.startswith("| epoch")]
    assert len(rows) == 1
    cells = [c.strip() for c in rows[0].split("|")[1:-1]]
    decisions = int(cells[2])
    largest = []
    for cores, cell in zip((2, 16, 64), cells[3:]):
        counts, top = cell.split(" [")
        assert sum(int(c) for c in counts.split(" / ")) == decisions > 100
        largest.append(int(top.rstrip("]")))
        assert largest[-1] <= cores
    assert largest == sorted(largest) and largest[0] == 2


def test_threads_for_cores_is_the_rule_threads_for_follows():
    from cylayers._threads import PARALLEL_MIN_ELEMENTS as MIN, threads_for_cores
    assert threads_for_cores(MIN - 1, MIN, 64) == 1          # below the minimum: one thread
    assert threads_for_cores(MIN, MIN, 64) == 2              # one per half the minimum
    assert threads_for_cores(5 * MIN // 2, MIN, 64) == 5
    assert threads_for_cores(100 * MIN, MIN, 16) == 16       # at most the cores
