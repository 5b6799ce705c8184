"""Freed arrays stay with the C allocator for the next step, rather than going back to the kernel.

A training step allocates and frees the same activation-sized arrays (hundreds of KiB to a few
MiB) at every step. glibc's malloc hands the free top of its heap back to the kernel once more
than ``M_TRIM_THRESHOLD`` bytes are free there (by default twice the largest freed block, so a
few MiB), and the next step's arrays then fault in fresh pages, which the kernel zeroes first:
thousands of page faults and milliseconds of kernel time per step of the zoo's ``cnn``
(docs/training.md gives the figures). Raising the threshold keeps those pages; blocks of
``MMAP_THRESHOLD`` and more are still mapped on their own and given back when freed, so memory
that stays is memory a step of the same sizes will reuse.

``keep_freed_memory`` runs once, when this module is imported (``import chainrule`` does). It changes nothing where the
C library is not glibc, where the user set glibc's malloc settings (``MALLOC_TRIM_THRESHOLD_``,
``MALLOC_MMAP_THRESHOLD_``, ``GLIBC_TUNABLES`` with ``glibc.malloc``), or where
``CHAINRULE_KEEP_FREED_MEMORY=0``.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD = -1  # mallopt's parameter numbers (glibc's malloc.h)
M_MMAP_THRESHOLD = -3
TRIM_THRESHOLD = 1 << 30  # free heap kept, at most, before the top is given back
MMAP_THRESHOLD = 32 << 20  # blocks this large or larger: mapped alone (glibc's largest allowed)
_USER_SETTINGS = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_")

applied = False  # whether keep_freed_memory changed the allocator's settings in this process


def _users_own_settings() -> bool:
    return any(v in os.environ for v in _USER_SETTINGS) or "glibc.malloc" in os.environ.get(
        "GLIBC_TUNABLES", ""
    )


def keep_freed_memory() -> bool:
    """Sets glibc malloc's trim threshold to ``TRIM_THRESHOLD`` and its mmap threshold to
    ``MMAP_THRESHOLD`` (which also stops glibc from moving both as blocks are freed). Returns
    whether it did; False, changing nothing, off glibc, with the user's own malloc settings,
    or with ``CHAINRULE_KEEP_FREED_MEMORY=0``."""
    global applied
    if os.environ.get("CHAINRULE_KEEP_FREED_MEMORY", "1") == "0" or _users_own_settings():
        return False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
        libc.gnu_get_libc_version  # noqa: B018 (musl and others have no such symbol: not glibc)
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    applied = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
    return applied


keep_freed_memory()
