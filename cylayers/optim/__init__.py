"""Optimizers and learning-rate schedulers."""
from cylayers.optim.optimizer import Optimizer
from cylayers.optim.sgd import SGD
from cylayers.optim.adam import Adam, AdamW
from cylayers.optim import lr_scheduler
