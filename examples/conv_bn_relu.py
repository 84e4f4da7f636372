"""A CNN built from the PyTorch layer tutorial's ConvBNReLU blocks (+ max pooling), on digits
or MNIST.

    python examples/conv_bn_relu.py
    python examples/conv_bn_relu.py --dataset mnist --data ~/mnist
    python examples/conv_bn_relu.py --export runs/conv_bn_relu.onnx   # then ONNX Runtime
    mpiexec -n 2 python examples/conv_bn_relu.py --distributed        # data parallel on MPI
"""
import sys

import cylayers as torch
from cylayers import nn

from training import distribute, fit, load_data, make_parser


class ConvBNReLU(nn.Module):  # the PyTorch layer tutorial's block, verbatim
    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.bn(self.conv(x)))


class ConvBNReLUNet(nn.Module):
    def __init__(self, in_channels=1, classes=10, width=32):
        super().__init__()
        self.features = nn.Sequential(
            ConvBNReLU(in_channels, width), ConvBNReLU(width, width), nn.MaxPool2d(2),
            ConvBNReLU(width, 2 * width), nn.MaxPool2d(2),
            ConvBNReLU(2 * width, 2 * width), nn.AdaptiveAvgPool2d(1))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(2 * width, classes))

    def forward(self, x):
        return self.classifier(self.features(x))


def main(argv=None):
    parser = make_parser(__doc__, epochs=15, batch_size=64, lr=2e-3, name="conv_bn_relu")
    parser.add_argument("--width", type=int, default=32,
                        help="channels of the first blocks (doubled after the first pooling)")
    parser.add_argument("--export", default=None, metavar="FILE.onnx",
                        help="after training, write the model as ONNX (needs cylayers[onnx])")
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    train, test = load_data(args, flatten=False)
    trained = distribute(ConvBNReLUNet(train.arrays[0].shape[1], 10, args.width), args)
    model = getattr(trained, "module", trained)  # SyncBatchNorm layers when distributed
    if torch.distributed.get_rank() == 0:
        print(trained)
    opt = torch.optim.Adam(trained.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    accuracy = fit(trained, train, test, args, optimizer=opt, scheduler=sched)[0]
    rank = torch.distributed.get_rank()
    if args.distributed:
        torch.distributed.destroy_process_group()
    if args.export and rank == 0:
        import cylayers.onnx
        model.eval()
        example = torch.tensor(train.arrays[0][:1])
        cylayers.onnx.export(model, example, args.export, input_names=["image"],
                             output_names=["logits"],
                             dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
        print(f"exported the trained model to {args.export} (input 'image': "
              f"{tuple(example.shape[1:])} images, any batch size)")
    return accuracy


if __name__ == "__main__":
    sys.exit(0 if main() > 0 else 1)
