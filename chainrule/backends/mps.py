"""``torch.backends.mps``: Apple's Metal backend, not available here."""


def is_available() -> bool:
    """False: chainrule has no MPS backend."""
    return False


def is_built() -> bool:
    """False: chainrule has no MPS backend."""
    return False
