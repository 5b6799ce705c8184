"""``torch.backends.mkldnn``: oneDNN is not used here; ``enabled`` is kept and does nothing."""

enabled: bool = True


def is_available() -> bool:
    """False: chainrule's convolutions are its own (GEMMs in NumPy's BLAS), not oneDNN's."""
    return False
