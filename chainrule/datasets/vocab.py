"""Vocabulary: words to token ids and back, for captioning.

Token ids are fixed by position: ``<pad>`` 0, ``<start>`` 1, ``<end>`` 2, ``<unk>`` 3, then the
words. An encoded caption is its words, ``<end>``, then ``<pad>`` up to ``max_len``; a decoder's
input is ``<start>`` followed by the same sequence shifted right.

Example:
    >>> vocab = Vocabulary(["a", "bag"])
    >>> vocab.encode("a bag", max_len=4)
    array([4, 5, 2, 0])
    >>> vocab.decode([4, 5, 2, 0])
    'a bag'
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from os import PathLike
from pathlib import Path

from chainrule.backend import xp

PAD, START, END, UNK = "<pad>", "<start>", "<end>", "<unk>"
SPECIALS = (PAD, START, END, UNK)
MAX_LEN = 24  # Fashion Scenes: the longest caption has 23 words, plus <end>

_WORD = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")


def tokenize(text: str) -> list[str]:
    """Lower-cased words of free text, punctuation dropped (``"A T-shirt, folded."`` →
    ``["a", "t-shirt", "folded"]``); for corpora like COCO whose captions are not tokenised."""
    return _WORD.findall(text.lower())


class Vocabulary:
    """A fixed list of tokens: the four specials, then ``words`` in the order given.

    Args:
        words: the non-special words, distinct.

    Attributes:
        tokens: all tokens, id order. ``pad_index``, ``start_index``, ``end_index``,
            ``unk_index``: 0, 1, 2, 3.
    """

    pad_index, start_index, end_index, unk_index = 0, 1, 2, 3

    def __init__(self, words: Iterable[str]) -> None:
        words = list(words)
        bad = [w for w in words if w in SPECIALS or not w or any(ch.isspace() for ch in w)]
        if bad:
            raise ValueError(
                f"Vocabulary: words must be non-empty, without spaces, not special: {bad}"
            )
        if len(set(words)) != len(words):
            dupes = sorted(w for w, c in Counter(words).items() if c > 1)
            raise ValueError(f"Vocabulary: duplicate words {dupes}")
        self.tokens: list[str] = [*SPECIALS, *words]
        self._index = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def from_captions(
        cls, captions: Iterable[str | Sequence[str]], min_count: int = 1
    ) -> Vocabulary:
        """Every word seen at least ``min_count`` times, sorted.

        Args:
            captions: captions as str (split on spaces: tokenise free text first, e.g. with
                ``tokenize``), or nested lists of them (one list per image).
            min_count: rarer words are left out and encode as ``<unk>``.
        """
        if min_count < 1:
            raise ValueError(f"Vocabulary.from_captions: min_count must be >= 1, got {min_count}")
        counts: Counter[str] = Counter()
        for caption in captions:
            for c in [caption] if isinstance(caption, str) else caption:
                counts.update(c.split())
        return cls(sorted(w for w, c in counts.items() if c >= min_count and w not in SPECIALS))

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, word: str) -> bool:
        return word in self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.tokens == other.tokens

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} tokens)"

    def index(self, word: str) -> int:
        """The id of ``word``; ``unk_index`` if unknown."""
        return self._index.get(word, self.unk_index)

    def encode(self, caption: str, max_len: int = MAX_LEN, truncate: bool = False) -> xp.ndarray:
        """Token ids of a caption: its words, ``<end>``, ``<pad>`` up to ``max_len``.

        Args:
            caption: words separated by spaces; unknown words become ``<unk>``.
            max_len: length of the result, ``<end>`` included.
            truncate: cut a caption of ``max_len`` words or more (keeping ``<end>`` last) instead
                of raising ``ValueError``.

        Returns:
            int64 of shape (max_len,).
        """
        words = caption.split()
        if len(words) + 1 > max_len:
            if not truncate:
                raise ValueError(
                    f"Vocabulary.encode: caption of {len(words)} words needs max_len >= "
                    f"{len(words) + 1} (with <end>), got {max_len}: {caption!r}"
                )
            words = words[: max_len - 1]
        ids = xp.full(max_len, self.pad_index, dtype=xp.int64)
        ids[: len(words)] = [self.index(w) for w in words]
        ids[len(words)] = self.end_index
        return ids

    def encode_batch(
        self, captions: Sequence[str], max_len: int = MAX_LEN, truncate: bool = False
    ) -> xp.ndarray:
        """``encode`` each caption: int64 of shape (N, max_len)."""
        out = xp.empty((len(captions), max_len), dtype=xp.int64)
        for i, caption in enumerate(captions):
            out[i] = self.encode(caption, max_len, truncate)
        return out

    def decode(self, ids: Iterable[int]) -> str:
        """The words of a token sequence, up to the first ``<end>``; ``<pad>``/``<start>`` skipped.

        Args:
            ids: ints, shape (T,): a list, a NumPy array or a tensor with ``.numpy()``.
        """
        words = []
        for i in _as_list(ids):
            if i == self.end_index:
                break
            if i in (self.pad_index, self.start_index):
                continue
            words.append(self.tokens[i])
        return " ".join(words)

    def decode_batch(self, ids: Iterable[Iterable[int]]) -> list[str]:
        """``decode`` each row of ids of shape (N, T)."""
        return [self.decode(row) for row in _as_list(ids)]

    def save(self, path: str | PathLike) -> None:
        """Write the tokens as JSON: ``{"tokens": [...]}``."""
        Path(path).write_text(json.dumps({"tokens": self.tokens}, indent=0) + "\n")

    @classmethod
    def load(cls, path: str | PathLike) -> Vocabulary:
        """Read a vocabulary written by ``save``."""
        path = Path(path)
        try:
            tokens = json.loads(path.read_text())["tokens"]
        except FileNotFoundError:
            raise FileNotFoundError(f"Vocabulary.load: no such file: {path}") from None
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise ValueError(f"Vocabulary.load: {path} is not a saved vocabulary ({e})") from None
        if tuple(tokens[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"Vocabulary.load: {path} must start with {SPECIALS}")
        return cls(tokens[len(SPECIALS) :])


def _as_list(ids):
    if hasattr(ids, "numpy"):  # a chainrule or torch tensor
        ids = ids.numpy()
    return ids.tolist() if isinstance(ids, xp.ndarray) else list(ids)
