"""``torch.backends.openmp``: chainrule starts no OpenMP threads of its own."""


def is_available() -> bool:
    """False: the only threads are those of NumPy's BLAS."""
    return False
