"""How much memory a captioner's sizes call for, worked out in Python integers before anything is
allocated, and a check against what the machine has free.

A few characters of command line (``--channels 100000,8,8``, ``--beam 100000``) ask NumPy for
tens of gigabytes; the operating system grants it lazily and then kills the process, or the
machine, part way through. The estimates are rough, on the high side (2 to 3.5 times the peak
that tracemalloc measures in tests/cli/test_memory_budget.py): they tell a run that fits from one
that cannot, not the exact peak.
"""

from __future__ import annotations

import os

from chainrule.datasets.vocab import MAX_LEN
from chainrule.ops.conv import CHUNK_BYTES

__all__ = [
    "MemoryBudgetError",
    "available_bytes",
    "check_fits",
    "decoding_bytes",
    "parameter_count",
    "training_bytes",
]

FLOAT = 4  # float32, the captioner's dtype


class MemoryBudgetError(ValueError):
    """The sizes asked for need more memory than the machine has free."""


def parameter_count(config) -> int:
    """The number of parameters (and BatchNorm buffers) of a ``Captioner(config)``."""
    c1, c2, c3 = config.channels
    v, e, h, a = config.vocab_size, config.embed_dim, config.hidden_dim, config.attention_dim
    g = config.image_size // 8
    d, regions = c3 + 2 * g, g * g
    # BatchNorm: weight, bias, running mean and variance per channel, and a step count per layer.
    encoder = c1 * 17 + c2 * (c1 * 9 + 1) + c3 * (c2 * 9 + 1) + 4 * (c1 + c2 + c3) + 3
    lstm_in = e + d if config.attention else e
    decoder = v * e + 4 * h * (lstm_in + h + 2) + h * e + e + e * v + v
    if config.attention:
        decoder += a * (d + h + 3) + 1 + 2 * (d * h + h) + h * d + d + d * e
    else:
        decoder += regions * d * h + h + 2 * (h * h + h)
    return encoder + decoder


def _encoder_floats(config) -> int:
    """Floats the encoder keeps per image: stage 1's convolution, BatchNorm and ReLU outputs;
    in stages 2 and 3 the convolution's output and the pooled BatchNorm output and its ReLU (the
    fused block of models/blocks.py: BN's full-size output lives only until it is pooled, counted
    once). The convolutions' im2col columns come in chunks of images (``_CONV_SCRATCH``)."""
    c1, c2, c3 = config.channels
    s = config.image_size
    half, quarter, eighth = (s // 2) ** 2, (s // 4) ** 2, (s // 8) ** 2
    return (
        3 * c1 * half
        + c2 * half + 2 * c2 * quarter
        + c3 * quarter + 2 * c3 * eighth
        + max(c2 * half, c3 * quarter)  # the full-size BN output before its pooling
    )  # fmt: skip


# ops/conv.py's chunks: about 4 MiB of im2col columns at a time,
# and the product written from them; counted once, whatever the batch.
_CONV_SCRATCH = 2 * CHUNK_BYTES


def _decoder_floats_per_step(config, regions: int, d: int) -> int:
    """Floats one decoding step keeps per caption (gates, state, attention, output layer)."""
    e, h, a, v = config.embed_dim, config.hidden_dim, config.attention_dim, config.vocab_size
    step = 12 * h + 4 * e + 2 * v
    if config.attention:
        step += 3 * regions * a + 2 * regions + 5 * d
    return step


def training_bytes(config, batch_size: int, max_len: int = MAX_LEN) -> int:
    """The bytes a teacher-forced training step with Adam takes: parameters four times (weights,
    gradients, two moments) and, per example, every activation kept for backward and its
    gradient."""
    g = config.image_size // 8
    regions, d = g * g, config.channels[2] + 2 * g
    per_example = (
        _encoder_floats(config)
        + regions * (d + config.attention_dim)
        + max_len * _decoder_floats_per_step(config, regions, d)
    )
    return FLOAT * (4 * parameter_count(config) + 2 * batch_size * per_example) + _CONV_SCRATCH


def decoding_bytes(config, batch_size: int, beam_size: int, max_len: int = MAX_LEN) -> int:
    """The bytes beam search over ``batch_size`` images takes: the encoder's activations, each
    beam's copy of the region features, one step's activations and the attention history,
    and the float64 candidates (beam x vocabulary) per beam."""
    g = config.image_size // 8
    regions, d = g * g, config.channels[2] + 2 * g
    beams = batch_size * beam_size
    per_beam = (
        regions * (d + config.attention_dim)
        + _decoder_floats_per_step(config, regions, d)
        + max_len * (regions + 1)
        + 2 * beam_size * config.vocab_size  # candidates, float64
    )
    return (
        FLOAT * (parameter_count(config) + batch_size * _encoder_floats(config) + beams * per_beam)
        + _CONV_SCRATCH
    )


def available_bytes() -> int | None:
    """Memory the machine has free now (Linux's MemAvailable), else its physical memory; None
    where neither can be read."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _gb(n: int) -> str:
    return f"{n / 2**30:,.1f} GB" if n >= 2**30 else f"{n / 2**20:,.0f} MB"


def check_fits(what: str, needed: int, available: int | None = None) -> None:
    """Refuses ``needed`` bytes when they exceed the memory available.

    Args:
        what: the sizes asked for, as the user gave them (flags or a file), for the message.
        needed: an estimate from ``training_bytes`` or ``decoding_bytes``.
        available: bytes free (default: ``available_bytes()``; unknown means no check).

    Raises:
        MemoryBudgetError: one line naming ``what``, the estimate and what is free.
    """
    if available is None:
        available = available_bytes()
    if available is not None and needed > available:
        raise MemoryBudgetError(
            f"{what} call for about {_gb(needed)} of memory, more than the {_gb(available)} "
            "this machine has free; choose smaller sizes"
        )
