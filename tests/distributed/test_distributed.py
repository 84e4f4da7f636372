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
    ("shapes", "all_reduce: the ranks' tensors differ in shape"),
    ("model", "DistributedDataParallel: the model's parameters and buffers: the ranks' tensors "
              "differ"),
    ("ddp_before_init", "Default process group has not been initialized")])
def test_misuse_is_a_clear_error_on_every_rank_not_a_hang(case, message):
    out = mpirun("mpi_errors.py", case, timeout=60)
    assert out.stdout.count(message) == 2, out.stdout  # both ranks report it


def test_a_rank_that_raises_aborts_the_job():
    out = mpirun("mpi_errors.py", "crash", timeout=60, check=False)
    report = f"rc {out.returncode}\nstdout:\n{out.stdout}\nstderr:\n{out.stderr}"
    assert out.returncode != 0, report
    assert "rank 1 fails on purpose" in out.stderr, report
    assert "rank 0 passed the barrier" not in out.stdout, report


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
