"""``torch.backends.cuda``: not built with CUDA; ``matmul.allow_tf32`` and the other flags are
kept and do nothing."""

from __future__ import annotations

import types


def is_built() -> bool:
    """False: chainrule has no CUDA backend."""
    return False


matmul = types.SimpleNamespace(
    allow_tf32=False, allow_fp16_reduced_precision_reduction=True,
    allow_bf16_reduced_precision_reduction=True,
)  # fmt: skip
