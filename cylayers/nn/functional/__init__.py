"""cylayers.nn.functional (import as F): the ops behind the nn modules."""
from cylayers.nn.functional.linear import bilinear, linear
from cylayers.nn.functional.attention import (multi_head_attention_forward,
                                              scaled_dot_product_attention)
from cylayers.nn.functional.activation import (celu, elu, gelu, hardsigmoid, hardswish,
                                               hardtanh, leaky_relu,
                                               log_softmax, mish, prelu, relu, relu6, relu_,
                                               selu, sigmoid, silu, softmax, softmin, softplus,
                                               tanh, softsign, logsigmoid, tanhshrink,
                                               softshrink, hardshrink, threshold, glu,
                                               elu_, celu_, selu_, leaky_relu_, hardtanh_,
                                               threshold_, rrelu, rrelu_, gumbel_softmax)
from cylayers.nn.functional.loss import (binary_cross_entropy, binary_cross_entropy_with_logits,
                                         cosine_embedding_loss, cross_entropy,
                                         gaussian_nll_loss, huber_loss, kl_div, l1_loss,
                                         margin_ranking_loss, mse_loss, nll_loss,
                                         poisson_nll_loss, smooth_l1_loss, soft_margin_loss)
from cylayers.nn.functional.padding import pad
from cylayers.nn.functional.upsampling import (interpolate, upsample, upsample_bilinear,
                                               upsample_nearest)
from cylayers.nn.functional.embedding import embedding, one_hot
from cylayers.nn.functional.distance import (cosine_similarity, normalize, pairwise_distance,
                                             pdist)
from cylayers.nn.functional.margin_loss import (hinge_embedding_loss, multi_margin_loss,
                                                multilabel_margin_loss,
                                                multilabel_soft_margin_loss,
                                                triplet_margin_loss,
                                                triplet_margin_with_distance_loss)
from cylayers.nn.functional.dropout import (alpha_dropout, dropout, dropout1d, dropout2d,
                                            dropout3d, feature_alpha_dropout)
from cylayers.nn.functional.dropout import _check_p as dropout_check_p
from cylayers.nn.functional.normalization import (batch_norm, group_norm, instance_norm,
                                                  layer_norm, local_response_norm, rms_norm)
from cylayers.nn.functional.shuffle import channel_shuffle, pixel_shuffle, pixel_unshuffle
from cylayers.nn.functional.conv import conv1d, conv2d, conv3d
from cylayers.nn.functional.unpooling import max_unpool1d, max_unpool2d, max_unpool3d
from cylayers.nn.functional.conv_transpose import (conv_transpose1d, conv_transpose2d,
                                                   conv_transpose3d)
from cylayers.nn.functional.fold import fold, unfold
from cylayers.nn.functional.pooling import (adaptive_avg_pool1d, adaptive_avg_pool2d,
                                            adaptive_avg_pool3d, adaptive_max_pool1d,
                                            adaptive_max_pool2d, adaptive_max_pool3d,
                                            avg_pool1d, avg_pool2d, avg_pool3d, lp_pool1d,
                                            lp_pool2d, lp_pool3d, max_pool1d,
                                            max_pool1d_with_indices, max_pool2d,
                                            max_pool2d_with_indices, max_pool3d,
                                            max_pool3d_with_indices)
