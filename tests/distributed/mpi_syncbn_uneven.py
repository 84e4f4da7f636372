"""Run under mpiexec with 2 ranks: SyncBatchNorm with different batch sizes per rank (5 and 11)
gives the full batch's outputs, input gradients and running statistics."""
import numpy as np

import cylayers
import cylayers.distributed as dist
from cylayers import nn

dist.init_process_group("mpi")
rank = dist.get_rank()
rng = np.random.default_rng(0)
x = (rng.standard_normal((16, 3, 4, 4)) * 3 + 5).astype(np.float64)
w = rng.standard_normal((16, 3, 4, 4))
lo, hi = (0, 5) if rank == 0 else (5, 16)
sync = nn.SyncBatchNorm(3).double()
xs = cylayers.tensor(x[lo:hi], requires_grad=True)
out = sync(xs)
(out * cylayers.tensor(w[lo:hi])).sum().backward()
full = nn.BatchNorm2d(3).double()
xf = cylayers.tensor(x, requires_grad=True)
ref = full(xf)
(ref * cylayers.tensor(w)).sum().backward()
np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy()[lo:hi], rtol=1e-12,
                           atol=1e-12)
np.testing.assert_allclose(xs.grad.numpy(), xf.grad.numpy()[lo:hi], rtol=1e-10, atol=1e-12)
np.testing.assert_allclose(sync.running_mean.numpy(), full.running_mean.numpy(), rtol=1e-12)
np.testing.assert_allclose(sync.running_var.numpy(), full.running_var.numpy(), rtol=1e-12)
# weight/bias gradients are per rank (DDP averages them): their sum is the full batch's
dist.all_reduce(sync.weight.grad)
np.testing.assert_allclose(sync.weight.grad.numpy(), full.weight.grad.numpy(), rtol=1e-10)
print(f"rank {rank} ok")
dist.destroy_process_group()
