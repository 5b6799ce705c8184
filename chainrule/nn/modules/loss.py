"""Loss layers: each holds its options and calls the function of the same name in ``F``.

All take ``reduction``: 'mean' (the default), 'sum', or 'none' (one loss per element/sample),
and PyTorch's deprecated ``size_average`` / ``reduce`` flags in PyTorch's positions, mapped to a
``reduction`` with PyTorch's warning (``F.legacy_reduction``).
"""

from __future__ import annotations

from chainrule.autograd.tensor import Tensor
from chainrule.functional import loss as F
from chainrule.nn.modules.module import Module


class _Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__()
        reduction = F.legacy_reduction(size_average, reduce, reduction)
        F.check_reduction(type(self).__name__, reduction)
        self.reduction = reduction  # not in the repr: PyTorch prints every loss as L1Loss()


class MSELoss(_Loss):
    """Mean squared error (x - y)². Shape: x and y of the same shape; the output is a scalar,
    or x's shape for reduction='none'."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error |x - y|. Shapes as ``MSELoss``."""

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.l1_loss(input, target, reduction=self.reduction)


class CrossEntropyLoss(_Loss):
    """Cross-entropy of logits against class indices (or class probabilities), with softmax
    fused in for numerical stability; see ``F.cross_entropy`` for the formula.

    Args:
        weight: (C,) rescaling of each class, or None.
        ignore_index: a target index that contributes neither loss nor gradient.
        reduction: 'mean' (over the targets not ignored, weighted), 'sum' or 'none'.
        label_smoothing: ε in [0, 1]: the target becomes (1 - ε) one-hot + ε / C.
    Shape:
        input: (N, C) or (N, C, d1, ...) logits; target: (N,) or (N, d1, ...) class indices.
        Output: a scalar, or (N, d1, ...) for reduction='none'.
    Example:
        >>> loss = CrossEntropyLoss()(model(x), y)   # x: (N, D), y: (N,) ints
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average=None,
        ignore_index: int = -100,
        reduce=None,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(
                f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing}"
            )
        self.weight = weight
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target) -> Tensor:
        return F.cross_entropy(
            input,
            target,
            self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities (e.g. ``LogSoftmax`` output) against class
    indices: -w_t x_t. Shapes as ``CrossEntropyLoss``."""

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average=None,
        ignore_index: int = -100,
        reduce=None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.weight = weight
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target) -> Tensor:
        return F.nll_loss(
            input, target, self.weight, ignore_index=self.ignore_index, reduction=self.reduction
        )


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities: -w (y log x + (1 - y) log(1 - x)), logs clamped
    at -100. Shape: x (probabilities in [0, 1]) and y of the same shape."""

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average=None,
        reduce=None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.weight = weight

    def forward(self, input: Tensor, target) -> Tensor:
        return F.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of sigmoid(logits), fused so that it is finite for any logit.

    Args:
        weight: rescaling broadcast against the input, or None.
        reduction: 'mean', 'sum' or 'none'.
        pos_weight: (C,) weight of the positive class, broadcast along the last axis.
    Shape: x (logits) and y of the same shape.
    """

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average=None,
        reduce=None,
        reduction: str = "mean",
        pos_weight: Tensor | None = None,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.weight = weight
        self.pos_weight = pos_weight

    def forward(self, input: Tensor, target) -> Tensor:
        return F.binary_cross_entropy_with_logits(
            input, target, self.weight, reduction=self.reduction, pos_weight=self.pos_weight
        )


class SmoothL1Loss(_Loss):
    """Smooth L1 loss: 0.5 d²/β where |d| < β, else |d| - 0.5β (see ``F.smooth_l1_loss``).
    Shapes as ``MSELoss``."""

    def __init__(
        self, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        if not beta >= 0:
            raise ValueError(f"SmoothL1Loss: beta must be >= 0, got {beta!r}")
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class KLDivLoss(Module):
    """KL divergence with log-probabilities as input (see ``F.kl_div``); reduction 'mean'
    (PyTorch's default, over elements), 'batchmean', 'sum' or 'none'."""

    def __init__(
        self, size_average=None, reduce=None, reduction: str = "mean", log_target: bool = False
    ) -> None:
        super().__init__()
        reduction = F.legacy_reduction(size_average, reduce, reduction)
        if reduction not in ("mean", "batchmean", "sum", "none"):
            raise ValueError(
                "KLDivLoss: reduction must be 'mean', 'batchmean', 'sum' or 'none', got "
                f"{reduction!r}"
            )
        self.reduction = reduction
        self.log_target = log_target

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)
