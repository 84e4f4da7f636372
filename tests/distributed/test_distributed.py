"""cylayers.distributed on a real MPI job: each test launches `mpiexec -n 2` on a script here,
with a timeout (a hang is a failure)."""
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

import cylayers
from cylayers.data import DistributedSampler

HERE = pathlib.Path(__file__).parent
MPIEXEC = shutil.which("mpiexec")


def mpirun(script, *args, ranks=2, timeout=120, check=True):
    assert MPIEXEC, "mpiexec not found: the test extra installs mpich (pip install mpich)"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run([MPIEXEC, "-n", str(ranks), sys.executable, str(HERE / script),
                          *map(str, args)], capture_output=True, text=True, timeout=timeout,
                         env=env)
    if check:
        assert out.returncode == 0, out.stdout + out.stderr
    return out


@pytest.mark.parametrize("kind", ["mlp", "cnn", "accumulate"])
def test_two_ranks_train_exactly_like_one_process_on_the_full_batch(kind, tmp_path):
    out_file = tmp_path / "state.npz"
    mpirun("mpi_equivalence.py", kind, out_file)
    state = np.load(out_file)
    keys = sorted(k[5:] for k in state.files if k.startswith("dist_"))
    assert keys and keys == sorted(k[4:] for k in state.files if k.startswith("ref_"))
    if kind == "cnn":
        assert any("running_var" in k for k in keys)
    for k in keys:
        np.testing.assert_allclose(state["dist_" + k], state["ref_" + k], rtol=1e-10,
                                   atol=1e-12, err_msg=k)


def test_sync_batchnorm_with_uneven_batches_matches_the_full_batch():
    out = mpirun("mpi_syncbn_uneven.py")
    assert "rank 0 ok" in out.stdout and "rank 1 ok" in out.stdout


def test_collectives():
    out = mpirun("mpi_errors.py", "collectives")
    for rank in (0, 1):
        assert f"rank {rank}: [3.0, 30.0] [2.0] [1.5] [7.0] [[0.0, 0.5], [1.0, 1.5]]" \
            in out.stdout, out.stdout


@pytest.mark.parametrize("case,message", [
    ("shapes", "all_reduce: the ranks' calls differ in shape, dtype, op or root (rank 0: "
               "all_reduce((3,) float32, op=SUM); rank 1: all_reduce((4,) float32, op=SUM))"),
    ("model", "DistributedDataParallel: the ranks differ in 'parameter weight' (rank 0: (2, 2) "
              "float32 requires_grad=True; rank 1: (3, 2) float32 requires_grad=True)"),
    ("ddp_before_init", "Default process group has not been initialized"),
    ("requires_grad", "DistributedDataParallel: the ranks differ in 'parameter 2.bias' (rank 0: "
                      "(3,) float32 requires_grad=True; rank 1: (3,) float32 "
                      "requires_grad=False)"),
    ("different_collectives", "the ranks called different collectives (rank 0: "
                              "broadcast((3,) float32, src=0); rank 1: all_reduce((3,) float32, "
                              "op=SUM))"),
    ("syncbn_channels", "SyncBatchNorm forward: the ranks' calls differ in shape, dtype, op or "
                        "root (rank 0: SyncBatchNorm forward(3 channels, float32, 4-D input); "
                        "rank 1: SyncBatchNorm forward(4 channels, float32, 4-D input))")])
def test_misuse_is_a_clear_error_on_every_rank_not_a_hang(case, message):
    out = mpirun("mpi_errors.py", case, timeout=60)
    assert out.stdout.count(message) == 2, out.stdout  # both ranks report it


def test_a_rank_that_raises_aborts_the_job_after_its_whole_traceback():
    for attempt in range(3):  # the abort once raced the message: one failure in 3 is a failure
        out = mpirun("mpi_errors.py", "crash", timeout=60, check=False)
        report = f"rc {out.returncode}\nstdout:\n{out.stdout}\nstderr:\n{out.stderr}"
        assert out.returncode != 0, report
        assert "Traceback (most recent call last):" in out.stderr, report
        assert 'mpi_errors.py", line' in out.stderr and "<module>" in out.stderr, report
        assert "ValueError: rank 1 fails on purpose" in out.stderr, report
        assert "rank 1 failed; aborting the job" in out.stderr, report
        assert "rank 0 passed the barrier" not in out.stdout, report


@pytest.mark.parametrize("case,timeout,message", [
    ("exit_early", 20, "rank 1 left the job (its script returned, called sys.exit or "
                   "destroy_process_group) while rank 0 waits for it in all_reduce "
                   "(agreeing on the call with the other ranks)"),
    ("destroy_early", 20, "rank 1 left the job"),
    ("late", 2, "rank 0 waited 2.")])
def test_a_rank_that_leaves_or_never_comes_aborts_the_job_instead_of_a_hang(case, timeout,
                                                                          message):
    # (the leaving rank's own wait for the others ends at the timeout: 20 s leaves the
    # waiting rank time to notice it left, after 0.5 s, and abort with its message; a rank
    # that kept waiting would print "wrong" once the other arrived)
    out = mpirun("mpi_errors.py", case, timeout, timeout=60, check=False)
    report = f"rc {out.returncode}\nstdout:\n{out.stdout}\nstderr:\n{out.stderr}"
    assert out.returncode != 0 and message in out.stderr, report
    assert "wrong" not in out.stdout, report
    if case == "late":
        assert "s in barrier (agreeing on the call with the other ranks)" in out.stderr
        assert "(the process group's timeout is 2 s): another rank is not taking part" \
            in out.stderr, report


def test_a_script_that_ends_without_destroy_process_group_ends_cleanly():
    out = mpirun("mpi_errors.py", "no_destroy", timeout=60)
    assert "rank 0 done [2.0, 2.0]" in out.stdout and "rank 1 done [2.0, 2.0]" in out.stdout


def test_timeout_must_be_a_timedelta():
    import datetime
    import cylayers.distributed as dist
    with pytest.raises(TypeError, match="datetime.timedelta"):
        dist.init_process_group("mpi", timeout=5)
    with pytest.raises(ValueError, match="timeout must be positive"):
        dist.init_process_group("mpi", timeout=datetime.timedelta(0))
    assert not dist.is_initialized()
    assert dist.DEFAULT_TIMEOUT == datetime.timedelta(minutes=30)


def test_distributed_sampler_shards_like_pytorch():
    import torch.utils.data as tud
    data = list(range(11))
    for drop_last in (False, True):
        ours = [list(DistributedSampler(data, 3, r, shuffle=False, drop_last=drop_last))
                for r in range(3)]
        theirs = [list(tud.DistributedSampler(data, 3, r, shuffle=False, drop_last=drop_last))
                  for r in range(3)]
        assert ours == theirs
    shuffled = [DistributedSampler(data, 2, r, seed=5) for r in range(2)]
    for s in shuffled:
        s.set_epoch(3)
    parts = [list(s) for s in shuffled]
    assert len(parts[0]) == len(parts[1]) == 6 and set(parts[0] + parts[1]) == set(data)
    again = DistributedSampler(data, 2, 0, seed=5)
    again.set_epoch(3)
    assert list(again) == parts[0]
    again.set_epoch(4)
    assert list(again) != parts[0]
    with pytest.raises(ValueError, match="Invalid rank"):
        DistributedSampler(data, 2, 2)


def test_not_initialized_and_single_process_defaults():
    import cylayers.distributed as dist
    assert dist.is_available() and not dist.is_initialized()
    assert dist.get_rank() == 0 and dist.get_world_size() == 1
    with pytest.raises(RuntimeError, match="has not been initialized"):
        dist.all_reduce(cylayers.ones(2))
    with pytest.raises(ValueError, match="backend 'nccl' is not available"):
        dist.init_process_group("nccl")
    bn = cylayers.nn.SyncBatchNorm(3)  # outside a job: a plain BatchNorm
    x = cylayers.randn(4, 3, 2, 2)
    ref = cylayers.nn.BatchNorm2d(3)
    np.testing.assert_allclose(bn(x).detach().numpy(), ref(x).detach().numpy())


def test_conv_bn_relu_example_trains_distributed_logs_once_and_resumes(tmp_path):
    example = HERE.parents[1] / "examples" / "conv_bn_relu.py"
    common = ["--distributed", "--no-progress", "--width", "8", "--checkpoint",
              str(tmp_path / "c.cyl"), "--plot", str(tmp_path / "c.png")]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    run = lambda *extra: subprocess.run(  # noqa: E731
        [MPIEXEC, "-n", "2", sys.executable, str(example), *common, *extra],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    first = run("--epochs", "2")
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout.count("epoch   1") == 1 and first.stdout.count("epoch   2") == 1
    state = cylayers.load(tmp_path / "c.cyl")
    assert state["epoch"] == 2 and not any(k.startswith("module.") for k in state["model"])
    assert any("running_var" in k for k in state["model"])
    second = run("--epochs", "3", "--resume")
    assert second.returncode == 0, second.stdout + second.stderr
    assert second.stdout.count("resumed from") == 1 and "epoch   3" in second.stdout
    assert "epoch   2" not in second.stdout
    assert cylayers.load(tmp_path / "c.cyl")["epoch"] == 3


def _mpiexec_env(**extra):
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    env.update(extra)
    return env


@pytest.mark.parametrize("omp,expected", [(None, max(1, len(os.sched_getaffinity(0)) // 2)),
                                          ("2", 2)])
def test_ranks_share_the_cores_by_default_and_omp_num_threads_still_rules(omp, expected):
    env = _mpiexec_env(**({"OMP_NUM_THREADS": omp} if omp else {}))
    out = subprocess.run([MPIEXEC, "-n", "2", sys.executable, "-c",
                          "import cylayers; print('threads', cylayers.get_num_threads())"],
                         capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split().count(str(expected)) == 2, out.stdout


def test_default_threads_divides_the_cores_between_the_ranks_on_the_node():
    from cylayers._threads import default_threads, ranks_on_this_node
    assert ranks_on_this_node({}) == 1 and default_threads({}, cores=16) is None
    assert default_threads({"MPI_LOCALNRANKS": "4"}, cores=16) == 4  # MPICH's Hydra
    assert default_threads({"OMPI_COMM_WORLD_LOCAL_SIZE": "3"}, cores=16) == 5  # Open MPI
    assert default_threads({"MPI_LOCALNRANKS": "32"}, cores=16) == 1
    assert default_threads({"MPI_LOCALNRANKS": "4", "OMP_NUM_THREADS": "3"}, cores=16) is None


@pytest.mark.parametrize("example,hint", [
    ("self_normalizing_net.py", "add --distributed, or run it without mpiexec"),
    ("compare_normalizations.py", "this example runs in one process: run it without mpiexec")])
def test_an_example_under_mpiexec_without_distributed_refuses_in_one_line(example, hint,
                                                                          tmp_path):
    script = HERE.parents[1] / "examples" / example
    out = subprocess.run([MPIEXEC, "-n", "2", sys.executable, str(script)], capture_output=True,
                         text=True, timeout=120, env=_mpiexec_env(), cwd=tmp_path)
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "started by mpiexec with 2 ranks but without --distributed" \
        in lines[0] and hint in lines[0], out.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("example", ["self_normalizing_net.py", "complex_net.py"])
def test_every_training_example_trains_data_parallel_with_distributed(example, tmp_path):
    script = HERE.parents[1] / "examples" / example
    out = subprocess.run([MPIEXEC, "-n", "2", sys.executable, str(script), "--distributed",
                          "--epochs", "1", "--no-progress", "--checkpoint",
                          str(tmp_path / "m.cyl"), "--plot", str(tmp_path / "m.png")],
                         capture_output=True, text=True, timeout=300,
                         env=_mpiexec_env(OMP_NUM_THREADS="1"), cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("epoch   1") == 1  # rank 0 logs
    assert out.stdout.count("DistributedDataParallel(") == 1
    assert cylayers.load(tmp_path / "m.cyl")["epoch"] == 1
