"""Where the readers look for data files, and the error that says so when they are not there.

Order of search, first hit wins: the ``root`` argument (and ``root/<subdir>``), ``$CHAINRULE_DATA``
(and ``$CHAINRULE_DATA/<subdir>``), then the data set's system places (a Debian package's
directory, ``~/.cache/chainrule/<subdir>``). A group of files that belong together (images and
labels of one split) must be found in one directory, so that two versions are never mixed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from chainrule.datasets.errors import DatasetNotFoundError
from chainrule.errors import regular_file

__all__ = ["cache_dir", "find_files", "search_dirs"]

ENV_VAR = "CHAINRULE_DATA"


def cache_dir() -> str:
    """``~/.cache/chainrule`` (or ``$XDG_CACHE_HOME/chainrule``): where a user may put data."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "chainrule")


def search_dirs(root: str | os.PathLike | None, subdir: str, system: Sequence[str]) -> list[str]:
    """The directories to search, in order, without duplicates.

    Args:
        root: the directory the caller named, or None.
        subdir: the data set's usual folder name (``"fashion-mnist"``), tried inside ``root``
            and ``$CHAINRULE_DATA``.
        system: the data set's system places, tried last.
    """
    dirs: list[str] = []
    if root is not None:
        root = os.path.expanduser(os.fspath(root))
        dirs += [root, os.path.join(root, subdir)]
    env = os.environ.get(ENV_VAR)
    if env:
        env = os.path.expanduser(env)
        dirs += [env, os.path.join(env, subdir)]
    dirs += [os.path.expanduser(d) for d in system]
    seen: set[str] = set()
    return [d for d in dirs if not (d in seen or seen.add(d))]


def _locate(directory: str, name: str, gz_ok: bool) -> str | None:
    # The unpacked file first: reading it skips a decompression.
    for candidate in (name, name + ".gz") if gz_ok else (name,):
        path = os.path.join(directory, candidate)
        if os.path.isfile(path):
            return path
        if os.path.lexists(path) and not os.path.islink(path):
            # A FIFO or a folder under the data file's name is a mistake to point at, not a
            # file to skip: "missing" would send the user looking for a file that is there.
            regular_file(path, "data file")
    return None


def find_files(
    names: Sequence[str],
    dirs: Sequence[str],
    what: str,
    how_to_get: str,
    gz_ok: bool = True,
) -> list[str]:
    """Paths of ``names`` (each as is or with ``.gz`` added), all from the first directory of
    ``dirs`` that holds every one of them.

    Raises:
        DatasetNotFoundError: no directory holds them all. The message names each missing file,
            every directory searched (and what it did hold), and ``how_to_get``.
    """
    for d in dirs:
        paths = [_locate(d, n, gz_ok) for n in names]
        if all(p is not None for p in paths):
            return paths  # type: ignore[return-value]
    suffix = "[.gz]" if gz_ok else ""
    lines = [f"{what} not found: need {', '.join(n + suffix for n in names)} in one directory."]
    lines.append("Looked in:")
    for d in dirs:
        if not os.path.isdir(d):
            lines.append(f"  {d}  (no such directory)")
            continue
        missing = [n + suffix for n in names if _locate(d, n, gz_ok) is None]
        lines.append(f"  {d}  (missing: {', '.join(missing)})")
    if not os.environ.get(ENV_VAR):
        lines.append(f"  (${ENV_VAR} is not set; set it to a directory to search there too)")
    lines.append(f"To get it: {how_to_get}")
    raise DatasetNotFoundError("\n".join(lines))
