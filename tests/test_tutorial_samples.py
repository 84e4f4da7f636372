"""The layer tutorial's code samples, run twice: once with PyTorch and once with ``torch``
replaced by cylayers, on the same weights and inputs. The sample code below is the tutorial's,
re-indented (its published text lost the indentation) and otherwise unchanged.

The normalization snippets and NormalizationExample are in tests/nn/test_normalization.py."""
import numpy as np
import pytest
import torch as real_torch

import cylayers
from helpers import assert_close

SEED_SAMPLES = '''
class SimpleNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear1 = nn.Linear(100, 50)
        self.dropout = nn.Dropout(p=0.5)
        self.linear2 = nn.Linear(50, 10)
    def forward(self, x):
        x = F.relu(self.linear1(x))
        x = self.dropout(x) # 训练时随机丢弃50%的神经元
        return self.linear2(x)

class SELUNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(100, 50)
        self.fc2 = nn.Linear(50, 10)
    def forward(self, x):
        x = F.selu(self.fc1(x))
        x = F.selu(self.fc2(x))
        return x

class AlphaDropoutNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear1 = nn.Linear(100, 50)
        self.alpha_dropout = nn.AlphaDropout(p=0.3)
        self.linear2 = nn.Linear(50, 10)
    def forward(self, x):
        x = F.selu(self.linear1(x))
        x = self.alpha_dropout(x)
        return self.linear2(x)

class SelfNormalizingNet(nn.Module):
    def __init__(self, input_size, hidden_size, output_size, dropout_p=0.2):
        super().__init__()
        self.fc1 = nn.Linear(input_size, hidden_size)
        self.alpha_dropout1 = nn.AlphaDropout(p=dropout_p)
        self.fc2 = nn.Linear(hidden_size, hidden_size)
        self.alpha_dropout2 = nn.AlphaDropout(p=dropout_p)
        self.fc3 = nn.Linear(hidden_size, output_size)
    def forward(self, x):
        x = F.selu(self.fc1(x))
        x = self.alpha_dropout1(x)
        x = F.selu(self.fc2(x))
        x = self.alpha_dropout2(x)
        x = self.fc3(x)
        return x

# 创建模型实例
model = SelfNormalizingNet(
    input_size=784,
    hidden_size=512,
    output_size=10,
    dropout_p=0.2
)

# 假设输入张量 x 的形状是 [32, 64, 30, 30]
x = torch.randn(32, 64, 30, 30)
x = x.view(x.size(0), -1)
# 输出张量形状变为 [32, 57600]
flattened_shape = tuple(x.shape)

class SigmoidExample(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(10, 1)
        self.sigmoid = nn.Sigmoid()
    def forward(self, x):
        x = self.linear(x)
        return self.sigmoid(x) # 或使用 F.sigmoid(x)

class TanhExample(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(10, 5)
        self.tanh = nn.Tanh()
    def forward(self, x):
        x = self.linear(x)
        return self.tanh(x) # 或使用 F.tanh(x)

class ReLUExample(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(20, 10)
        self.relu = nn.ReLU()
        # 可选参数
        self.relu_with_params = nn.ReLU(inplace=True) # inplace=True可节省内存
    def forward(self, x):
        x = self.linear(x)
        return self.relu(x) # 或使用 F.relu(x)

class PReLUExample(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(10, 5)
        self.prelu = nn.PReLU() # 默认为每个通道学习一个参数
        # 可选:指定参数数量
        self.prelu_params = nn.PReLU(num_parameters=1) # 所有通道共享同一参数
    def forward(self, x):
        x = self.linear(x)
        return self.prelu(x)

class SoftmaxExample(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(100, 10)
        self.softmax = nn.Softmax(dim=1) # dim=1表示在第二维度上进行softmax
    def forward(self, x):
        x = self.linear(x)
        return self.softmax(x) # 或使用 F.softmax(x, dim=1)

class ConvBNReLU(nn.Module):
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
    def forward(self, x):
        return self.relu(self.bn(self.conv(x)))

class ConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 64, 3)
        self.dropout2d = nn.Dropout2d(p=0.2)
    def forward(self, x):
        x = F.relu(self.conv(x))
        return self.dropout2d(x) # 按通道随机丢弃

class Conv3DNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv3d = nn.Conv3d(1, 16, 3)
        self.dropout3d = nn.Dropout3d(p=0.3)
    def forward(self, x):
        x = F.relu(self.conv3d(x))
        return self.dropout3d(x)

class ComplexNet(nn.Module):
    def __init__(self):
        super().__init__()
        # 卷积层部分
        self.conv = nn.Conv2d(3, 64, 3)
        self.dropout2d = nn.Dropout2d(0.2)
        # 全连接层部分
        self.fc1 = nn.Linear(64 * 30 * 30, 512)
        self.dropout = nn.Dropout(0.5)
        self.fc2 = nn.Linear(512, 10)
    def forward(self, x):
        # 卷积层的Dropout
        x = F.relu(self.conv(x))
        x = self.dropout2d(x)
        # 全连接层的Dropout
        x = x.view(x.size(0), -1)
        x = F.relu(self.fc1(x))
        x = self.dropout(x)
        x = self.fc2(x)
        return x

class MultiClassClassifier(nn.Module):
    def __init__(self, input_size, hidden_size, num_classes):
        super().__init__()
        self.layer1 = nn.Linear(input_size, hidden_size)
        self.layer2 = nn.Linear(hidden_size, hidden_size)
        self.layer3 = nn.Linear(hidden_size, num_classes)
        self.relu = nn.ReLU()
        self.softmax = nn.Softmax(dim=1)
    def forward(self, x):
        x = self.relu(self.layer1(x))
        x = self.relu(self.layer2(x))
        x = self.layer3(x)
        return self.softmax(x)
'''


def _namespace(lib):
    ns = {"torch": lib, "nn": lib.nn, "F": lib.nn.functional}
    exec(SEED_SAMPLES, ns)
    return ns


OURS, THEIRS = _namespace(cylayers), _namespace(real_torch)

CASES = [
    ("SimpleNet", (), (8, 100), True),
    ("SELUNet", (), (8, 100), False),
    ("AlphaDropoutNet", (), (8, 100), True),
    ("SelfNormalizingNet", (784, 512, 10, 0.2), (8, 784), True),  # the tutorial's instance
    ("SigmoidExample", (), (8, 10), False),
    ("TanhExample", (), (8, 10), False),
    ("ReLUExample", (), (8, 20), False),
    ("PReLUExample", (), (8, 10), False),
    ("SoftmaxExample", (), (8, 100), False),
    ("MultiClassClassifier", (64, 32, 10), (8, 64), False),
    ("ConvBNReLU", (3, 16), (4, 3, 12, 12), False),
    ("ConvNet", (), (2, 3, 16, 16), True),
    ("Conv3DNet", (), (2, 1, 8, 8, 8), True),
    ("ComplexNet", (), (2, 3, 32, 32), True),  # x.view(x.size(0), -1) gives 57600 features
]


@pytest.mark.parametrize("name,args,in_shape,has_dropout", CASES, ids=[c[0] for c in CASES])
def test_tutorial_sample_matches_pytorch(name, args, in_shape, has_dropout):
    ours, theirs = OURS[name](*args), THEIRS[name](*args)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal(in_shape).astype(np.float32)
    if not has_dropout:  # deterministic in train mode too (BatchNorm on batch statistics)
        assert_close(ours(cylayers.tensor(x)), theirs(real_torch.from_numpy(x)), atol=5e-5)
        for (n, b), (_, c) in zip(ours.named_buffers(), theirs.named_buffers()):
            assert_close(b, c, atol=1e-6, err_msg=n)
    ours.eval()
    theirs.eval()
    xo = cylayers.tensor(x, requires_grad=True)
    xt = real_torch.from_numpy(x).requires_grad_()
    yo, yt = ours(xo), theirs(xt)
    assert_close(yo, yt, atol=5e-5)
    yo.sum().backward()
    yt.sum().backward()
    assert_close(xo.grad, xt.grad, atol=5e-5)
    for (n, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        if q.grad is None:  # a parameter the forward never uses (e.g. prelu_params)
            assert p.grad is None, n
        else:
            assert_close(p.grad, q.grad, atol=1e-4)
    if has_dropout:  # train mode: it runs, differs from eval, and its gradients are finite
        ours.train()
        xo.grad = None
        y = ours(xo)
        assert not np.allclose(y.detach().numpy(), yo.detach().numpy())
        y.sum().backward()
        assert all(np.isfinite(p.grad.numpy()).all() for p in ours.parameters()
                   if p.grad is not None)


def test_complex_net_flattens_to_57600_features():
    net = OURS["ComplexNet"]()
    x = cylayers.randn(2, 3, 32, 32)
    h = net.dropout2d(cylayers.nn.functional.relu(net.conv(x)))
    assert tuple(h.view(h.size(0), -1).shape) == (2, 57600) == (2, 64 * 30 * 30)


def test_tutorial_statements_ran_as_written():
    for ns in (OURS, THEIRS):
        assert ns["flattened_shape"] == (32, 57600)
        assert type(ns["model"]).__name__ == "SelfNormalizingNet"
    assert list(OURS["model"].state_dict()) == list(THEIRS["model"].state_dict())
