"""cylayers.nn: modules, parameters, initialization, functional ops."""
from cylayers.nn.parameter import Parameter
from cylayers.nn import functional, init, parallel, utils
from cylayers.nn.modules import *  # noqa: F401,F403
