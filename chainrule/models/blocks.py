"""Running the zoo's convolutional stacks with BatchNorm2d → ReLU → MaxPool2d fused.

The zoo's networks (``cnn``, the captioner's encoder) keep their layers in an ``nn.Sequential``
(so their state dicts keep PyTorch's names); ``run_sequential`` runs such a stack as its own
forward would, except that each BatchNorm2d → ReLU → MaxPool2d(k) triple runs as
``F.batch_norm_max_pool2d`` followed by the ReLU on the pooled (k² times smaller) tensor:

    relu(maxpool(bn(x))) = maxpool(relu(bn(x)))

exactly — max and ReLU commute, and the gradient reaches the same pixel: where a window's
maximum is positive it is the first maximum either way; where it is not, ReLU's gradient is zero
for the whole window either way. A user's own ``nn.Sequential`` runs layer by layer, unchanged.
"""

from __future__ import annotations

from chainrule import nn
from chainrule.autograd.tensor import Tensor
from chainrule.functional.activation import relu
from chainrule.functional.normalization import batch_norm_max_pool2d


def _pool_k(layer) -> int | None:
    """k for a MaxPool2d(k) (stride k, no padding) given as one int, else None."""
    if type(layer) is not nn.MaxPool2d:
        return None
    k = layer.kernel_size
    if isinstance(k, int) and layer.stride == k and layer.padding == 0:
        return k
    return None


def _fusable(layers: list, i: int) -> int | None:
    """k when layers[i:i+3] are BatchNorm2d, ReLU (not in place), MaxPool2d(k); else None."""
    if i + 2 >= len(layers):
        return None
    bn, act, pool = layers[i : i + 3]
    if type(bn) is not nn.BatchNorm2d or type(act) is not nn.ReLU or act.inplace:
        return None
    return _pool_k(pool)


def run_sequential(seq: nn.Sequential, x: Tensor) -> Tensor:
    """seq(x), with each BatchNorm2d → ReLU → MaxPool2d(k) in it run fused (see above)."""
    layers = list(seq)
    i = 0
    while i < len(layers):
        k = _fusable(layers, i)
        if k is None:
            x = layers[i](x)
            i += 1
            continue
        bn = layers[i]
        x = relu(batch_norm_max_pool2d(x, *bn.batch_norm_args(x), k))
        i += 3
    return x
