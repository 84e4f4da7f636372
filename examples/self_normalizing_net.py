"""The PyTorch layer tutorial's SelfNormalizingNet (SELU + AlphaDropout) trained on digits
(default) or MNIST.

Self-normalizing networks need LeCun-normal weights (std = 1/sqrt(fan_in)) and zero biases, so
that SELU keeps activations at mean 0 / variance 1 through the layers.

    python examples/self_normalizing_net.py                       # digits, no download
    python examples/self_normalizing_net.py --dataset mnist --data ~/mnist --epochs 10
"""
import sys

import cylayers as torch
from cylayers import nn
import cylayers.nn.functional as F

from training import distribute, fit, load_data, make_parser


class SelfNormalizingNet(nn.Module):
    def __init__(self, input_size, hidden_size, output_size, dropout_p=0.2):
        super().__init__()
        self.fc1 = nn.Linear(input_size, hidden_size)
        self.alpha_dropout1 = nn.AlphaDropout(p=dropout_p)
        self.fc2 = nn.Linear(hidden_size, hidden_size)
        self.alpha_dropout2 = nn.AlphaDropout(p=dropout_p)
        self.fc3 = nn.Linear(hidden_size, output_size)
        for layer in (self.fc1, self.fc2, self.fc3):
            nn.init.kaiming_normal_(layer.weight, nonlinearity="linear")  # LeCun normal
            nn.init.zeros_(layer.bias)

    def forward(self, x):
        x = F.selu(self.fc1(x))
        x = self.alpha_dropout1(x)
        x = F.selu(self.fc2(x))
        x = self.alpha_dropout2(x)
        x = self.fc3(x)
        return x


def main(argv=None):
    parser = make_parser(__doc__, epochs=30, batch_size=64, lr=1e-3, name="self_normalizing_net")
    parser.add_argument("--hidden", type=int, default=256, help="units of the hidden layers")
    parser.add_argument("--dropout", type=float, default=0.1, help="AlphaDropout probability")
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    train, test = load_data(args, flatten=True)
    model = distribute(SelfNormalizingNet(train.arrays[0].shape[1], args.hidden, 10, args.dropout), args)
    if torch.distributed.get_rank() == 0:
        print(model)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    accuracy = fit(model, train, test, args, optimizer=opt, scheduler=sched)[0]
    if args.distributed:
        torch.distributed.destroy_process_group()
    return accuracy


if __name__ == "__main__":
    sys.exit(0 if main() > 0 else 1)
