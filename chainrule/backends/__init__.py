"""``torch.backends``: the flags and questions PyTorch programs set and ask about accelerator
libraries. chainrule computes with NumPy on the CPU, so every ``is_available()`` is False and
the flags are settable and change nothing (``cudnn.benchmark = True`` is harmless here, as it
is in PyTorch on a machine without CUDA).

Each is a module, as PyTorch's, so ``import chainrule.backends.cudnn as cudnn`` works.
"""

from chainrule.backends import cuda, cudnn, mkldnn, mps, openmp

__all__ = ["cuda", "cudnn", "mkldnn", "mps", "openmp"]
