"""Core differentiable ops (forward/backward pairs) behind Tensor's operators and methods."""
