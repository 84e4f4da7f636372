"""Conv1d / Conv2d / Conv3d on a shared _ConvNd (weight layout (out, in/groups, *kernel))."""
from cylayers import _creation
from cylayers.nn import functional as F
from cylayers.nn.functional.conv import check_window_args, ntuple
from cylayers.nn.modules._params import reset_linear_like
from cylayers.nn.modules.module import Module
from cylayers.nn.parameter import Parameter


class _ConvNd(Module):
    _nd = None

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        nd = self._nd
        _check_groups(in_channels, out_channels, groups)
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {list(_PADDING_MODES)}, but got "
                             f"padding_mode={padding_mode!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = ntuple(kernel_size, nd, "kernel_size")
        self.stride = ntuple(stride, nd, "stride")
        self.dilation = ntuple(dilation, nd, "dilation")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                                 "{'valid', 'same'}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = ntuple(padding, nd, "padding")
        check_window_args(self.kernel_size, self.stride,
                          None if isinstance(self.padding, str) else self.padding, self.dilation)
        self.groups, self.padding_mode = groups, padding_mode
        self._reversed_padding_repeated_twice = self._explicit_padding()
        self.output_padding = (0,) * nd
        self.transposed = False
        self.weight = Parameter(_creation.empty(out_channels, in_channels // groups,
                                                *self.kernel_size, dtype=dtype))
        if bias:
            self.bias = Parameter(_creation.empty(out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        reset_linear_like(self.weight, self.bias)

    def _explicit_padding(self):
        """F.pad's widths (last dimension first) for a padding_mode other than zeros; 'same'
        puts the odd element of an odd total on the right, as PyTorch does."""
        pads = []
        for d in reversed(range(self._nd)):
            if self.padding == "same":
                total = self.dilation[d] * (self.kernel_size[d] - 1)
                pads += [total // 2, total - total // 2]
            elif self.padding == "valid":
                pads += [0, 0]
            else:
                pads += [self.padding[d]] * 2
        return tuple(pads)

    def forward(self, input):
        fn = (F.conv1d, F.conv2d, F.conv3d)[self._nd - 1]
        if self.padding_mode != "zeros":
            padded = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return fn(padded, self.weight, self.bias, self.stride, 0, self.dilation,
                      self.groups)
        return fn(input, self.weight, self.bias, self.stride, self.padding, self.dilation,
                  self.groups)

    def extra_repr(self):
        return _conv_extra_repr(self)


_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _check_groups(in_channels, out_channels, groups):
    if groups <= 0:
        raise ValueError("groups must be a positive integer")
    if in_channels % groups != 0:
        raise ValueError("in_channels must be divisible by groups")
    if out_channels % groups != 0:
        raise ValueError("out_channels must be divisible by groups")


def _conv_extra_repr(m):
    """PyTorch's repr arguments of a convolution, plain or transposed: the non-default ones."""
    nd = m._nd
    s = f"{m.in_channels}, {m.out_channels}, kernel_size={m.kernel_size}, stride={m.stride}"
    if m.padding != (0,) * nd:
        s += f", padding={m.padding}"
    if m.dilation != (1,) * nd:
        s += f", dilation={m.dilation}"
    if m.output_padding != (0,) * nd:
        s += f", output_padding={m.output_padding}"
    if m.groups != 1:
        s += f", groups={m.groups}"
    if m.bias is None:
        s += ", bias=False"
    if m.padding_mode != "zeros":
        s += f", padding_mode={m.padding_mode}"
    return s


class Conv1d(_ConvNd):
    _nd = 1


class Conv2d(_ConvNd):
    _nd = 2


class Conv3d(_ConvNd):
    _nd = 3


class _ConvTransposeNd(Module):
    """Transposed convolution: weight (in_channels, out_channels / groups, *kernel_size),
    PyTorch's parameters, initialization and output_size argument."""
    _nd = None

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        super().__init__()
        nd = self._nd
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for '
                             f"{type(self).__name__}")
        _check_groups(in_channels, out_channels, groups)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = ntuple(kernel_size, nd, "kernel_size")
        self.stride = ntuple(stride, nd, "stride")
        self.padding = ntuple(padding, nd, "padding")
        self.output_padding = ntuple(output_padding, nd, "output_padding")
        self.dilation = ntuple(dilation, nd, "dilation")
        check_window_args(self.kernel_size, self.stride, self.padding, self.dilation)
        self.groups, self.padding_mode = groups, padding_mode
        self.transposed = True
        self.weight = Parameter(_creation.empty(in_channels, out_channels // groups,
                                                *self.kernel_size, dtype=dtype))
        if bias:
            self.bias = Parameter(_creation.empty(out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        reset_linear_like(self.weight, self.bias)

    def _output_padding(self, input, output_size):
        """PyTorch's: the output_padding that gives ``output_size`` (within one stride)."""
        if output_size is None:
            return self.output_padding
        nd = self._nd
        output_size = list(output_size)[-nd:]
        if len(output_size) != nd:
            raise ValueError(f"ConvTranspose{nd}D: for {input.ndim}D input, output_size must "
                             f"have {nd} or {nd + 2} elements (got {len(output_size)})")
        smallest = [(input.shape[input.ndim - nd + d] - 1) * self.stride[d]
                    - 2 * self.padding[d] + self.dilation[d] * (self.kernel_size[d] - 1) + 1
                    for d in range(nd)]
        for d in range(nd):
            if not smallest[d] <= output_size[d] <= smallest[d] + self.stride[d] - 1:
                raise ValueError(f"requested an output size of {output_size}, but valid sizes "
                                 f"range from {smallest} to "
                                 f"{[m + s - 1 for m, s in zip(smallest, self.stride)]} "
                                 f"(for an input of {list(input.shape[2:])})")
        return tuple(o - m for o, m in zip(output_size, smallest))

    def forward(self, input, output_size=None):
        fn = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[self._nd - 1]
        return fn(input, self.weight, self.bias, self.stride, self.padding,
                  self._output_padding(input, output_size), self.groups, self.dilation)

    def extra_repr(self):
        return _conv_extra_repr(self)


class ConvTranspose1d(_ConvTransposeNd):
    _nd = 1


class ConvTranspose2d(_ConvTransposeNd):
    _nd = 2


class ConvTranspose3d(_ConvTransposeNd):
    _nd = 3
