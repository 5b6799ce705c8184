"""Functions that layers are made of (``cr.nn.functional``, imported as ``F``).

Each is a composition of primitive ops, or a fused op where numerics ask for one (the losses).
One import line per file, so that each concern can add its names without touching the others;
``cr.nn.functional`` re-exports every public name imported here.
"""

from chainrule.functional.activation import (
    elu,
    elu_,
    erf,
    gelu,
    leaky_relu,
    leaky_relu_,
    log_softmax,
    relu,
    relu_,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)
from chainrule.functional.attention import scaled_dot_product_attention
from chainrule.functional.conv import conv1d, conv2d, conv_transpose2d
from chainrule.functional.dropout import dropout, dropout2d
from chainrule.functional.embedding import embedding, one_hot
from chainrule.functional.linear import linear
from chainrule.functional.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    kl_div,
    l1_loss,
    legacy_reduction,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from chainrule.functional.normalization import batch_norm, group_norm, layer_norm
from chainrule.functional.pooling import (
    adaptive_avg_pool2d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
)
from chainrule.functional.sampling import affine_grid, grid_sample
from chainrule.functional.upsampling import interpolate
from chainrule.functional.vector import cosine_similarity, normalize, pad
