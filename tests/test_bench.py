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
