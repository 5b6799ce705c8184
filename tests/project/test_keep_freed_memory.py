"""chainrule/memory.py: arrays freed at one step are reused by the next without page faults,
and the user's own allocator settings, or CHAINRULE_KEEP_FREED_MEMORY=0, are left alone."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# Eight 4 MiB arrays made and freed per "step", as a training step's activations are: the page
# faults of ten steps after two of warm-up, and whether chainrule changed malloc's settings.
STEPS = """
import resource, numpy as np, chainrule, chainrule.memory as m
def step():
    a = [np.ones(1 << 20, np.float32) for _ in range(8)]
    del a
step(); step()
r0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
print(m.applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0)
"""

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="glibc's malloc settings: Linux only"
)


def _run(**env) -> tuple[str, int]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUN"))}
    clean.pop("CHAINRULE_KEEP_FREED_MEMORY", None)
    out = subprocess.run([sys.executable, "-c", STEPS], env={**clean, **env}, check=True,
                         capture_output=True, text=True).stdout.split()  # fmt: skip
    return out[0], int(out[1])


def test_freed_arrays_are_reused_without_page_faults():
    applied, faults = _run()
    assert applied == "True"
    # Each step's 32 MiB would be 8,192 fresh 4 KiB pages if given back to the kernel.
    assert faults < 100


def test_the_opt_out_and_the_users_own_settings_are_left_alone():
    applied, faults = _run(CHAINRULE_KEEP_FREED_MEMORY="0")
    assert applied == "False"
    assert faults > 1000  # what glibc's default trimming costs: the reason for memory.py
    assert _run(MALLOC_TRIM_THRESHOLD_="100000")[0] == "False"
    assert _run(GLIBC_TUNABLES="glibc.malloc.trim_threshold=100000")[0] == "False"
