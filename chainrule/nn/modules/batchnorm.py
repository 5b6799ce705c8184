"""Batch normalisation: BatchNorm1d, BatchNorm2d and the ``_BatchNorm`` base they share
(``torch.nn.modules.batchnorm``)."""

from __future__ import annotations

from chainrule.autograd.compile_hooks import side_effect
from chainrule.autograd.tensor import Tensor, constant, escape
from chainrule.backend import get_default_dtype, xp
from chainrule.errors import ShapeError, user_line
from chainrule.functional.normalization import batch_norm
from chainrule.nn.modules.module import Module
from chainrule.nn.parameter import Parameter


class _BatchNorm(Module):
    """Batch normalisation over axis 1 (channels) of an input; subclasses say which ranks they
    accept by overriding ``_check_input_dim``.

    In training mode each channel is normalised with the batch's mean and (biased) variance, and
    ``running_mean``/``running_var`` move towards the batch's statistics (unbiased variance):
    ``running = (1 - momentum) * running + momentum * batch``; with ``momentum=None`` they are the
    cumulative average over all batches seen. In evaluation mode the running statistics are used.

    Args:
        num_features: C, the number of channels.
        eps: added to the variance before the square root.
        momentum: weight of the new batch in the running statistics (None: cumulative average).
        affine: learn a per-channel ``weight`` (initialised to 1) and ``bias`` (0).
        bias: with ``affine``, whether to learn the bias (keyword-only, as PyTorch).
        track_running_stats: keep running statistics; when False, batch statistics are used in
            evaluation mode too.
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if not isinstance(num_features, (int, xp.integer)) or num_features <= 0:
            raise ValueError(
                f"{type(self).__name__}: num_features must be a positive int, got {num_features!r}"
            )
        self.num_features = int(num_features)
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        dtype = get_default_dtype()
        if affine:
            self.weight = Parameter(xp.ones(num_features, dtype=dtype))
        else:
            self.register_parameter("weight", None)
        if affine and bias:
            self.bias = Parameter(xp.zeros(num_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", constant(xp.zeros(num_features, dtype=dtype)))
            self.register_buffer("running_var", constant(xp.ones(num_features, dtype=dtype)))
            self.register_buffer("num_batches_tracked", constant(xp.array(0, dtype=xp.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches tracked."""
        if self.track_running_stats:
            self.running_mean._data[...] = 0
            self.running_var._data[...] = 1
            self.num_batches_tracked._data[...] = 0

    def reset_parameters(self) -> None:
        """Running statistics reset; weight 1, bias 0."""
        self.reset_running_stats()
        if self.weight is not None:
            self.weight._data[...] = 1
        if self.bias is not None:
            self.bias._data[...] = 0

    def _check_input_dim(self, x: Tensor) -> None:
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        return batch_norm(x, *self.batch_norm_args(x))

    def batch_norm_args(self, x: Tensor) -> tuple:
        """The arguments after ``input`` of the ``F.batch_norm`` call this layer makes on x, after
        checking x and counting the batch (as ``forward``; the zoo's fused blocks use it)."""
        self._check_input_dim(x)
        if x.shape[1] != self.num_features:
            raise ShapeError(
                f"{type(self).__name__}({self.num_features}): expected {self.num_features} "
                f"channels in axis 1, got input of shape {x.shape}"
            )
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            side_effect(_count_batch, self.num_batches_tracked)
            if self.momentum is None:
                escape("BatchNorm with momentum=None (its factor is computed in Python)")
                factor = 1.0 / float(self.num_batches_tracked._data)
        use_batch_stats = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return (
            self.running_mean if track else None,
            self.running_var if track else None,
            self.weight,
            self.bias,
            use_batch_stats,
            factor,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) input, per channel C (see ``_BatchNorm``).

    Shape:
        x: (N, C) or (N, C, L); output: the same.

    Example:
        >>> bn = BatchNorm1d(16)
        >>> bn(cr.randn(8, 16)).shape
        (8, 16)
    """

    def _check_input_dim(self, x: Tensor) -> None:
        if x.ndim not in (2, 3):
            raise ShapeError(
                f"BatchNorm1d: expected 2D (N, C) or 3D (N, C, L) input, got shape {x.shape}\n"
                f"  at {user_line()}"
            )


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of images (N, C, H, W), per channel C, with statistics over N, H and
    W (see ``_BatchNorm``).

    Shape:
        x: (N, C, H, W); output: the same.

    Example:
        >>> bn = BatchNorm2d(32)
        >>> bn(cr.randn(8, 32, 14, 14)).shape
        (8, 32, 14, 14)
    """

    def _check_input_dim(self, x: Tensor) -> None:
        if x.ndim != 4:
            raise ShapeError(
                f"{self!r}: expected a 4-D input (N, {self.num_features}, H, W), got shape "
                f"{x.shape}"
            )


def _count_batch(count: Tensor) -> None:
    count._data += 1
