"""The seed document's code samples (../shared/seed/), run twice: once with PyTorch and once
with ``torch`` replaced by cylayers, on the same weights and inputs. The sample code below is the
seed's, re-indented (the seed file lost its indentation) and otherwise unchanged.

Samples that need layers of later issues (Conv2d/Conv3d, the normalization layers) are covered by
those issues' tests."""
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
    ("SimpleNet", (), 100, True),
    ("SELUNet", (), 100, False),
    ("AlphaDropoutNet", (), 100, True),
    ("SelfNormalizingNet", (784, 512, 10, 0.2), 784, True),  # the seed's instance
    ("SigmoidExample", (), 10, False),
    ("TanhExample", (), 10, False),
    ("ReLUExample", (), 20, False),
    ("PReLUExample", (), 10, False),
    ("SoftmaxExample", (), 100, False),
    ("MultiClassClassifier", (64, 32, 10), 64, False),
]


@pytest.mark.parametrize("name,args,in_features,has_dropout", CASES, ids=[c[0] for c in CASES])
def test_seed_sample_matches_pytorch(name, args, in_features, has_dropout):
    ours, theirs = OURS[name](*args), THEIRS[name](*args)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((8, in_features)).astype(np.float32)
    ours.eval()
    theirs.eval()
    xo = cylayers.tensor(x, requires_grad=True)
    xt = real_torch.from_numpy(x).requires_grad_()
    yo, yt = ours(xo), theirs(xt)
    assert_close(yo, yt)
    yo.sum().backward()
    yt.sum().backward()
    assert_close(xo.grad, xt.grad)
    for (n, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        if q.grad is None:  # a parameter the forward never uses (e.g. prelu_params)
            assert p.grad is None, n
        else:
            assert_close(p.grad, q.grad, atol=1e-5)
    if has_dropout:  # train mode: it runs, differs from eval, and its gradients are finite
        ours.train()
        xo.grad = None
        y = ours(xo)
        assert not np.allclose(y.detach().numpy(), yo.detach().numpy())
        y.sum().backward()
        assert all(np.isfinite(p.grad.numpy()).all() for p in ours.parameters()
                   if p.grad is not None)
