"""The errors the dataset readers raise.

Both say which file is at fault; a missing data set also says where the reader looked and how to
get it, so that a user can fix the problem without reading our source.
"""

from __future__ import annotations


class DatasetNotFoundError(FileNotFoundError):
    """A data set's files are in none of the places the reader searched.

    The message names each missing file, every directory searched, and the command or steps that
    get the files.
    """


class DatasetFormatError(ValueError):
    """A data file exists but is not what its format promises: wrong magic number, truncated
    payload, corrupt gzip stream, or images and labels that disagree in count."""
