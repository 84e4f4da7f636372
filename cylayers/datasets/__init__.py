"""Datasets: scikit-learn's bundled digits (offline default) and MNIST/FashionMNIST IDX files."""
from cylayers.datasets.digits import load_digits
from cylayers.datasets.mnist import FashionMNIST, MNIST, read_idx
