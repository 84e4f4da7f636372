from cylayers.nn.modules.module import Module
from cylayers.nn.modules.container import (ModuleDict, ModuleList, ParameterDict, ParameterList,
                                           Sequential)
from cylayers.nn.modules.linear import Bilinear, Identity, Linear
from cylayers.nn.modules.flatten import Flatten, Unflatten
from cylayers.nn.modules.fold import Fold, Unfold
from cylayers.nn.modules.activation import (CELU, ELU, GELU, Hardsigmoid, Hardswish,
                                            Hardtanh, LeakyReLU, LogSoftmax, Mish, PReLU, ReLU, ReLU6, SELU, Sigmoid, SiLU,
                                            Softmax, Softmin, Softplus, Tanh, Softsign,
                                            LogSigmoid, Tanhshrink, Softshrink, Hardshrink,
                                            Threshold, GLU, RReLU, Softmax2d)
from cylayers.nn.modules.shuffle import ChannelShuffle, PixelShuffle, PixelUnshuffle
from cylayers.nn.modules.loss import (BCELoss, BCEWithLogitsLoss, CosineEmbeddingLoss,
                                      CrossEntropyLoss, GaussianNLLLoss, HuberLoss, KLDivLoss,
                                      L1Loss, MarginRankingLoss, MSELoss, NLLLoss,
                                      PoissonNLLLoss, SmoothL1Loss, SoftMarginLoss,
                                      HingeEmbeddingLoss, MultiLabelMarginLoss,
                                      MultiLabelSoftMarginLoss, MultiMarginLoss,
                                      TripletMarginLoss, TripletMarginWithDistanceLoss)
from cylayers.nn.modules.sparse import Embedding
from cylayers.nn.modules.upsampling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d
from cylayers.nn.modules.distance import CosineSimilarity, PairwiseDistance
from cylayers.nn.modules.padding import (CircularPad1d, CircularPad2d, CircularPad3d,
                                         ConstantPad1d, ConstantPad2d, ConstantPad3d,
                                         ReflectionPad1d, ReflectionPad2d, ReflectionPad3d,
                                         ReplicationPad1d, ReplicationPad2d, ReplicationPad3d,
                                         ZeroPad1d, ZeroPad2d, ZeroPad3d)
from cylayers.nn.modules.dropout import (AlphaDropout, Dropout, Dropout1d, Dropout2d, Dropout3d,
                                         FeatureAlphaDropout)
from cylayers.nn.modules.batchnorm import BatchNorm1d, BatchNorm2d, BatchNorm3d, SyncBatchNorm
from cylayers.nn.modules.instancenorm import InstanceNorm1d, InstanceNorm2d, InstanceNorm3d
from cylayers.nn.modules.normalization import GroupNorm, LayerNorm, LocalResponseNorm, RMSNorm
from cylayers.nn.modules.conv import (Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d,
                                      ConvTranspose3d)
from cylayers.nn.modules.pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d,
                                         AvgPool1d, AvgPool2d, AvgPool3d, MaxPool1d, MaxPool2d,
                                         MaxPool3d, MaxUnpool1d, MaxUnpool2d, MaxUnpool3d,
                                         AdaptiveMaxPool1d, AdaptiveMaxPool2d, AdaptiveMaxPool3d,
                                         LPPool1d, LPPool2d, LPPool3d)
from cylayers.nn.modules.attention import MultiheadAttention
from cylayers.nn.modules.transformer import (Transformer, TransformerDecoder,
                                             TransformerDecoderLayer, TransformerEncoder,
                                             TransformerEncoderLayer)
from cylayers.nn.modules.rnn import GRU, GRUCell, LSTM, LSTMCell, RNN, RNNBase, RNNCell, RNNCellBase
