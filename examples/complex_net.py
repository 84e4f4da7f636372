"""The PyTorch layer tutorial's ComplexNet (Conv2d + Dropout2d, then Linear + Dropout), trained
on digits or MNIST.

The tutorial writes it for 3x32x32 inputs (fc1 = 64*30*30 features after x.view(x.size(0), -1));
here the input channels and image size are parameters so it trains on 1x8x8 digits or 1x28x28
MNIST; with (3, 32) it is exactly the PyTorch layer tutorial's network.

    python examples/complex_net.py
"""
import sys

import cylayers as torch
from cylayers import nn
import cylayers.nn.functional as F

from training import distribute, fit, load_data, make_parser


class ComplexNet(nn.Module):
    def __init__(self, in_channels=3, image_size=32, classes=10):
        super().__init__()
        # 卷积层部分
        self.conv = nn.Conv2d(in_channels, 64, 3)
        self.dropout2d = nn.Dropout2d(0.2)
        # 全连接层部分
        self.fc1 = nn.Linear(64 * (image_size - 2) * (image_size - 2), 512)
        self.dropout = nn.Dropout(0.5)
        self.fc2 = nn.Linear(512, classes)

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


def main(argv=None):
    parser = make_parser(__doc__, epochs=15, batch_size=64, lr=1e-3, name="complex_net")
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    train, test = load_data(args, flatten=False)
    _, c, h, _ = train.arrays[0].shape
    model = distribute(ComplexNet(c, h), args)
    if torch.distributed.get_rank() == 0:
        print(model)
    accuracy = fit(model, train, test, args)[0]
    if args.distributed:
        torch.distributed.destroy_process_group()
    return accuracy


if __name__ == "__main__":
    sys.exit(0 if main() > 0 else 1)
