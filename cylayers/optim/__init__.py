"""Optimizers and learning-rate schedulers."""
from cylayers.optim.optimizer import Optimizer
from cylayers.optim.sgd import SGD
from cylayers.optim.adam import Adam, AdamW
from cylayers.optim.adagrad import Adagrad
from cylayers.optim.rmsprop import RMSprop
from cylayers.optim.adadelta import Adadelta
from cylayers.optim.adamax import Adamax
from cylayers.optim.nadam import NAdam
from cylayers.optim.radam import RAdam
from cylayers.optim.lbfgs import LBFGS
from cylayers.optim.rprop import Rprop
from cylayers.optim.asgd import ASGD
from cylayers.optim import lr_scheduler, swa_utils
