"""BatchNorm1d/2d/3d on a shared _NormBase (also the base of the InstanceNorms)."""
import numpy as np

from cylayers import _creation
from cylayers.autograd.grad_mode import no_grad
from cylayers.nn import functional as F
from cylayers.nn.functional.normalization import update_running_statistics
from cylayers.nn.modules._params import register_affine, reset_affine
from cylayers.nn.modules.module import Module


class _NormBase(Module):
    """num_features, eps, momentum, affine, track_running_stats; weight/bias and running stats."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        if not isinstance(num_features, int) or num_features <= 0:
            raise ValueError(f"num_features must be a positive integer, got {num_features!r}")
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        register_affine(self, (num_features,), affine, bias, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", _creation.zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", _creation.ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked",
                                 _creation.tensor(0, dtype=np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self):
        if self.track_running_stats:
            with no_grad():
                self.running_mean.zero_()
                self.running_var.fill_(1)
                self.num_batches_tracked.zero_()

    def reset_parameters(self):
        self.reset_running_stats()
        reset_affine(self.weight, self.bias)

    def _check_input_dim(self, input):
        raise NotImplementedError

    def _momentum_for_this_step(self):
        """Advance num_batches_tracked; momentum=None means a cumulative moving average."""
        if not (self.training and self.track_running_stats):
            return 0.0 if self.momentum is None else self.momentum
        with no_grad():
            self.num_batches_tracked.add_(1)
        if self.momentum is None:
            return 1.0 / float(self.num_batches_tracked.item())
        return self.momentum

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    def forward(self, input):
        self._check_input_dim(input)
        momentum = self._momentum_for_this_step()
        # Batch statistics in training, and in eval when running statistics are not tracked.
        use_batch = self.training or self.running_mean is None
        return F.batch_norm(input,
                            self.running_mean if not self.training or self.track_running_stats
                            else None,
                            self.running_var if not self.training or self.track_running_stats
                            else None,
                            self.weight, self.bias, use_batch, momentum, self.eps)


class BatchNorm1d(_BatchNorm):
    def _check_input_dim(self, input):
        if input.ndim not in (2, 3):
            raise ValueError(f"expected 2D or 3D input (got {input.ndim}D input)")


class BatchNorm2d(_BatchNorm):
    def _check_input_dim(self, input):
        if input.ndim != 4:
            raise ValueError(f"expected 4D input (got {input.ndim}D input)")


class BatchNorm3d(_BatchNorm):
    def _check_input_dim(self, input):
        if input.ndim != 5:
            raise ValueError(f"expected 5D input (got {input.ndim}D input)")


class SyncBatchNorm(_BatchNorm):
    """BatchNorm whose training statistics cover every rank's samples (cylayers.distributed);
    in eval mode, or outside a distributed job, it is a plain BatchNorm."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, process_group=None, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats,
                         dtype=dtype)
        self.process_group = process_group

    def _check_input_dim(self, input):
        if input.ndim < 2:
            raise ValueError(f"expected at least 2D input (got {input.ndim}D input)")

    def forward(self, input):
        from cylayers import distributed as dist
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(input)
        from cylayers.nn.functional.sync_batchnorm import SyncBatchNormFn, global_statistics
        self._check_input_dim(input)
        momentum = self._momentum_for_this_step()
        moments = global_statistics(input._array)
        if self.track_running_stats:
            update_running_statistics(self.running_mean, self.running_var, moments, momentum)
        return SyncBatchNormFn.apply(input, self.weight, self.bias, self.eps, moments)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """Replace every BatchNorm*d in ``module`` (recursively) by a SyncBatchNorm with the
        same parameters and buffers; returns the converted module."""
        converted = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            converted = cls(module.num_features, module.eps, module.momentum, module.affine,
                            module.track_running_stats, process_group)
            for name in ("weight", "bias"):
                value = getattr(module, name)
                if value is not None:
                    setattr(converted, name, value)
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                if getattr(module, name) is not None:
                    setattr(converted, name, getattr(module, name))
            converted.training = module.training
        for name, child in list(module._modules.items()):
            new = cls.convert_sync_batchnorm(child, process_group)
            if new is not child:
                module._modules[name] = new
        return converted
