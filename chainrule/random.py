"""The one random generator every draw in chainrule uses, so that ``manual_seed`` makes a whole
program repeatable (initialisation, dropout, shuffling without an explicit seed)."""

from __future__ import annotations

from chainrule.backend import xp

_generator = xp.random.default_rng()


def seed_value(seed: int) -> int:
    """The seed that PyTorch's ``manual_seed`` stores for ``seed``: ``int(seed)`` modulo 2**64,
    so that -1 is 2**64 - 1 (NumPy's generators take no negative seed). Raises ``ValueError``
    outside [-2**63, 2**64 - 1], which PyTorch refuses too."""
    value = int(seed)
    if not -(2**63) <= value < 2**64:
        raise ValueError(
            f"manual_seed: seed {seed} is outside [-2**63, 2**64 - 1], the seeds PyTorch takes"
        )
    return value % 2**64


def manual_seed(seed: int) -> None:
    """Reseeds the library's generator: every later random draw becomes repeatable. Takes
    PyTorch's seeds, negative ones included (``seed_value``)."""
    global _generator
    _generator = xp.random.default_rng(seed_value(seed))


def generator() -> xp.random.Generator:
    """The library's generator (reseeded by ``manual_seed``)."""
    return _generator


def get_rng_state() -> dict:
    """The generator's state, to be stored in a checkpoint."""
    return _generator.bit_generator.state


def set_rng_state(st: dict) -> None:
    """Restores a state returned by ``get_rng_state``."""
    _generator.bit_generator.state = st


def normal_array(mean: float, std: float, shape: tuple[int, ...], gen=None) -> xp.ndarray:
    """float64 draws from N(mean, std²) of ``shape``, from ``gen`` or the library's generator."""
    return (gen or _generator).normal(mean, std, shape)


def uniform_array(a: float, b: float, shape: tuple[int, ...], gen=None) -> xp.ndarray:
    """float64 draws from U(a, b) of ``shape``, from ``gen`` or the library's generator."""
    return (gen or _generator).uniform(a, b, shape)


class Generator:
    """A generator of its own, as ``torch.Generator``: ``cr.Generator().manual_seed(0)`` makes
    the draws of whatever takes it (``generator=``: samplers, ``random_split``) repeatable
    without touching the library's generator."""

    def __init__(self, device: str = "cpu") -> None:
        self._rng = xp.random.default_rng()
        self._seed: int | None = None

    def manual_seed(self, seed: int) -> Generator:
        """Reseeds this generator; returns it, so that ``Generator().manual_seed(0)`` chains.
        Takes an integer, as ``torch.Generator.manual_seed`` (``cr.manual_seed`` also takes
        what ``int()`` turns into one)."""
        if isinstance(seed, bool) or not isinstance(seed, int | xp.integer):
            raise RuntimeError(f"manual_seed expected an integer, but got {type(seed).__name__}")
        self._seed = seed_value(seed)
        self._rng = xp.random.default_rng(self._seed)
        return self

    def initial_seed(self) -> int | None:
        return self._seed

    def get_state(self) -> dict:
        return self._rng.bit_generator.state

    def set_state(self, state: dict) -> Generator:
        self._rng.bit_generator.state = state
        return self


def numpy_generator(gen: Generator | None) -> xp.random.Generator:
    """The NumPy generator behind ``gen``, or the library's when ``gen`` is None."""
    return _generator if gen is None else gen._rng
