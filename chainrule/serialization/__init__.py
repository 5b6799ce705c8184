"""Serialization: ``cr.save`` / ``cr.load`` in the safetensors format or PyTorch's, written
atomically.

``cr.save(obj, "model.pt")`` (``.pt``, ``.pth``, ``.tar``) writes PyTorch's zip format, which
``torch.load(f, weights_only=True)`` reads; ``cr.load`` reads PyTorch's files whatever their
name, through a restricted unpickler that never imports or calls anything from the file and
refuses any global but tensor rebuilders, storages, dtypes and plain containers, by name
(``torch_format``, ``torch_unpickler``, ``torch_rebuild``, ``torch_pickler``). Every other name,
and chainrule's own checkpoints (written with ``metadata=``), use safetensors, described below.

A checkpoint is a flat dict of arrays with dotted keys (``"model.fc1.weight"``), stored with the
``safetensors`` package: a JSON header (names, dtypes, shapes, offsets) followed by the raw
bytes. Loading reads exactly that, so it never executes code from the file (no pickle).
Everything that is not an array (epoch, hyperparameters, the RNG state, the model's kind) goes
into the header's string ``metadata``, each value JSON-encoded.

Writes are atomic: the file is written under a temporary name in the same directory, flushed to
disk (fsync), and renamed over the old one (``os.replace``). A crash or a kill at any moment
leaves either the previous checkpoint or the new one, never half of one; the temporary file a
kill leaves (``.NAME.PID.HEX.chainrule.tmp``) is removed by the next write into that folder. A
path naming a device, a FIFO, a socket or a folder is refused, never replaced; a new file gets
the mode the umask gives, as with ``open()`` and ``torch.save``.

What a file may hold is bounded (``limits``): nesting 100 deep, 50,000 entries, keys and
numbers of 4,096 characters, a 16 MB header; ``save`` refuses beyond them (and cycles, naming
the path to the cycle), ``load`` refuses a file beyond them naming it and the limit, within
200 MB of memory and without recursion.

Every file ``save`` writes carries a SHA-256 of its tensors (names, dtypes, shapes and bytes) in
the metadata, under ``"chainrule.sha256"``; ``load`` recomputes it and refuses a file whose data
no longer matches (a flipped bit, a bad copy). Files without one (older, or from other tools)
load unchecked.

Example::

    tensors, opt_meta = cr.serialization.split_optimizer_state(opt.state_dict())
    cr.save({"model": model.state_dict(), "optimizer": tensors}, "ckpt.safetensors",
            metadata={"epoch": 7, "optimizer": opt_meta, "scheduler": sched.state_dict()})

    flat, meta = cr.load("ckpt.safetensors", with_metadata=True)
    parts = cr.serialization.unflatten(flat, depth=1)  # {"model": {...}, "optimizer": {...}}
    model.load_state_dict(parts["model"])
    opt.load_state_dict(
        cr.serialization.join_optimizer_state(parts.get("optimizer"), meta["optimizer"]))
    sched.load_state_dict(meta["scheduler"])

The pieces, one concern each: ``save_load`` (the file format: ``save``, ``load``, the
metadata header and the digest), ``structure`` (nested dicts and containers <-> flat tensor
names), ``atomic`` (``write_atomically``, also used for metrics, curves and exports) and
``state_dicts`` (optimiser state halves, weights into a model, metadata checks),
``safetensors_file`` (the file's bytes, written without the library's temporary file) and
``limits``.
"""

from chainrule.serialization.atomic import check_writable, write_atomically
from chainrule.serialization.limits import LimitError
from chainrule.serialization.save_load import load, load_metadata, save
from chainrule.serialization.state_dicts import (
    join_optimizer_state,
    load_weights,
    metadata_error,
    split_optimizer_state,
    whole_number,
)
from chainrule.serialization.structure import CheckpointError, flatten, unflatten
from chainrule.serialization.torch_unpickler import UnpicklingError

__all__ = [
    "CheckpointError",
    "LimitError",
    "UnpicklingError",
    "check_writable",
    "flatten",
    "join_optimizer_state",
    "load",
    "load_metadata",
    "load_weights",
    "metadata_error",
    "save",
    "split_optimizer_state",
    "unflatten",
    "whole_number",
    "write_atomically",
]
