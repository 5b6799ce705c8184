"""``torch.backends.mkldnn``: oneDNN is not used here; ``enabled`` is kept and does nothing."""

enabled: bool = True


def is_available() -> bool:
    """False: chainrule's convolutions are its own (im2col and one GEMM), not oneDNN's."""
    return False
