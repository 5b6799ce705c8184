"""Issue 28: hostile structures in a checkpoint, or in what is saved, refused in one line that
names the file and the limit (``chainrule.serialization.limits``), never a RecursionError or a
raw library message: nesting 10⁵ deep, 10⁶ entries, a header over 100 MB, a 5,000-digit key,
a cycle. The slow run loads each hostile file in its own process and checks its peak memory."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.serialization import CheckpointError, load_metadata
from chainrule.serialization.limits import (
    MAX_DEPTH,
    MAX_ENTRIES,
    MAX_HEADER_BYTES,
    MAX_KEY_LENGTH,
    LimitError,
)

MB = 2**20


def nested(depth: int) -> list:
    """A list nested ``depth`` levels deep, built without recursion."""
    root: list = []
    node = root
    for _ in range(depth - 1):
        child: list = []
        node.append(child)
        node = child
    return root


# ----- save: what would make a file that load refuses, and cycles -----
def test_a_cyclic_list_is_refused_naming_the_path_to_the_cycle(tmp_path):
    x: list = [1, 2, {"a": []}]
    x[2]["a"].append(x)
    path = tmp_path / "c.safetensors"
    with pytest.raises(LimitError) as e:
        cr.save(x, path)
    assert str(e.value) == (
        f"cr.save: {path}: obj[2]['a'][0] is obj itself, a cycle; a checkpoint holds trees "
        "of containers, without cycles"
    )
    assert not path.exists()


def test_a_cyclic_dict_in_metadata_is_refused(tmp_path):
    d: dict = {"config": {}}
    d["config"]["self"] = d["config"]
    path = tmp_path / "m.safetensors"
    with pytest.raises(LimitError, match=r"metadata\['config'\]\['self'\] is "
                       r"metadata\['config'\] itself, a cycle"):  # fmt: skip
        cr.save({"w": cr.ones(1)}, path, metadata=d)


def test_a_shared_container_is_no_cycle(tmp_path):
    shared = [1, 2]
    cr.save({"a": shared, "b": shared}, tmp_path / "s.safetensors")
    assert cr.load(tmp_path / "s.safetensors") == {"a": [1, 2], "b": [1, 2]}


def test_nesting_up_to_the_limit_round_trips_and_deeper_is_refused(tmp_path):
    path = tmp_path / "d.safetensors"
    cr.save(nested(MAX_DEPTH), path)
    back = cr.load(path)
    for _ in range(MAX_DEPTH - 1):
        (back,) = back
    assert back == []
    with pytest.raises(LimitError, match=rf"cr.save: {path}: obj\[0\].*is nested over 100 lev"):
        cr.save(nested(MAX_DEPTH + 1), path)
    with pytest.raises(LimitError, match="is nested over 100 levels deep"):
        cr.save(nested(10**5), path)
    with pytest.raises(LimitError, match=r"metadata\['h'\]\[0\].*nested over 100 levels"):
        cr.save({"w": cr.ones(1)}, path, metadata={"h": nested(10**5)})


def test_too_many_entries_and_too_long_keys_are_refused_on_save(tmp_path):
    path = tmp_path / "e.safetensors"
    with pytest.raises(LimitError, match=f"cr.save: {path}: obj: over 50,000 entries"):
        cr.save(list(range(10**6)), path)
    cr.save(list(range(MAX_ENTRIES)), path)  # at the limit: fine
    assert len(cr.load(path)) == MAX_ENTRIES
    with pytest.raises(LimitError, match="an int key of 5,000 digits, over the limit of 4,096"):
        cr.save({10**4999: 1}, path)
    with pytest.raises(LimitError, match=r"obj\[0\]: an int value of 5,000 digits"):
        cr.save([10**4999], path)
    with pytest.raises(LimitError, match=r"the key 'k{20}'\.\.\. is 5,000 characters"):
        cr.save({"k" * 5000: 1}, path)
    with pytest.raises(LimitError, match=r"the key 't{20}'\.\.\. is 5,000 characters"):
        cr.save({"t" * 5000: cr.ones(1)}, path, metadata={})


# ----- load: hostile files, built byte by byte -----
def safetensors_bytes(header: dict | bytes, data: bytes = b"") -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def with_metadata(value: str, key: str = "k") -> bytes:
    return safetensors_bytes({"__metadata__": {"chainrule.metadata": "json", key: value}})


def with_structure(structure: str) -> bytes:
    return safetensors_bytes({"__metadata__": {"chainrule.metadata": "json",
                                               "chainrule.structure": structure}})  # fmt: skip


HOSTILE = {
    "metadata-depth-1e5": (lambda: with_metadata("[" * 10**5 + "]" * 10**5),
                           "metadata['k'] is nested 100,000 levels deep, over the limit of 302"),
    "structure-depth-1e5": (lambda: with_structure('{"$l": [' * 10**5 + "]}" * 10**5),
                            "the saved structure is nested 200,000 levels deep"),
    "metadata-1e6-entries": (lambda: with_metadata("[" + "0," * (10**6 - 1) + "0]"),
                             "its header holds over 500,000 values (the limit)"),
    "tensors-1e6-entries": (lambda: safetensors_bytes(
        b"{" + b",".join(b'"t%d":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}' % i
                         for i in range(10**6)) + b"}"),
        "over the limit of 16,777,216 bytes"),
    "header-over-100MB": (None, "its header is 104,857,608 bytes, over the limit of 16,777,216"),
    "metadata-5000-digit-key": (lambda: with_metadata('{"' + "1" * 5000 + '": 0}'),
                                "metadata['k']: the key '11111111111111111111'... is 5,000 char"),
    "structure-5000-digit-int-key": (
        lambda: with_structure('{"$d": [[' + "7" * 5000 + ", 1]]}"),
        "the saved structure holds a number of 5,000 digits, over the limit of 4,096"),
    "metadata-5000-digit-number": (lambda: with_metadata("[" + "9" * 5000 + "]"),
                                   "metadata['k'] holds a number of 5,000 digits"),
    "5000-char-metadata-name": (lambda: with_metadata("1", key="m" * 5000),
                                "the key 'mmmmmmmmmmmmmmmmmmmm'... is 5,000 characters long"),
    "5000-char-tensor-name": (lambda: safetensors_bytes(
        {"n" * 5000: {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4),
        "the key 'nnnnnnnnnnnnnnnnnnnn'... is 5,000 characters long"),
    "outer-header-depth-1e5": (lambda: safetensors_bytes(
        b'{"a":' + b"[" * 10**5 + b"]" * 10**5 + b"}"),
        "its header is nested 100,001 deep, over the limit of 100"),
}  # fmt: skip


def write_hostile(folder: Path, name: str) -> Path:
    path = folder / f"{name}.safetensors"
    build = HOSTILE[name][0]
    if build is None:  # a header of 100 MB + 8 bytes that is really there (a sparse file)
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", 100 * MB + 8) + b'{"a":')
            f.truncate(8 + 100 * MB + 8)
    else:
        path.write_bytes(build())
    return path


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_file_is_refused_naming_the_file_and_the_limit(tmp_path, name):
    path = write_hostile(tmp_path, name)
    says = HOSTILE[name][1]
    readers = {
        "load with metadata": lambda: cr.load(path, with_metadata=True),
        "load": lambda: cr.load(path),
        "load_metadata": lambda: load_metadata(path),
    }
    # What a reader does not return it does not read: a plain load skips the metadata, the
    # other two the saved structure, load_metadata the tensors' names.
    structure = name.startswith("structure")
    skips = {"load": "metadata" in name, "load with metadata": structure,
             "load_metadata": structure or name == "5000-char-tensor-name"}  # fmt: skip
    for reader, read in readers.items():
        if skips.get(reader):
            continue
        with pytest.raises(LimitError) as e:
            read()
        assert str(e.value).startswith(f"cr.load: {path}"), str(e.value)
        assert says in str(e.value), str(e.value)
    if path.stat().st_size < 50 * MB:
        with open(path, "rb") as f, pytest.raises(LimitError, match=f"cr.load: {path}"):
            cr.load(f, with_metadata=not structure)


def test_a_short_file_claiming_a_huge_header_is_just_not_a_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="not a valid safetensors checkpoint"):
        cr.load(io.BytesIO(struct.pack("<Q", 10**15) + b"{}"))


def test_the_limits_are_far_above_real_checkpoints(tmp_path):
    """A training state like the trainers' (optimiser state, 1,000 epochs of history, a
    vocabulary) is well within every limit."""
    history = [{"epoch": i, "train_loss": 0.1, "val_loss": 0.2, "seconds": 1.5}
               for i in range(1000)]  # fmt: skip
    meta = {"history": history, "vocab": [f"word{i}" for i in range(5000)],
            "optimizer": {"state": {str(i): {"step": 10} for i in range(200)}}}  # fmt: skip
    tensors = {f"model.layer{i}.weight": np.zeros((2, 2), np.float32) for i in range(2000)}
    path = tmp_path / "big.safetensors"
    cr.save(tensors, path, metadata=meta)
    assert load_metadata(path) == meta
    assert MAX_HEADER_BYTES >= 16 * MB and MAX_KEY_LENGTH >= 4096


# ----- the slow run: each hostile file loaded in its own process, its memory measured -----
# VmHWM (the high-water mark of the child's own address space), not ru_maxrss: Linux carries
# the parent's high-water mark into ru_maxrss across fork and exec (see tests/cli/test_cli_bad_inputs.py).
CHILD = textwrap.dedent(
    """
    import sys
    import chainrule as cr
    from chainrule.serialization import LimitError

    def vm(key):
        for line in open("/proc/self/status"):
            if line.startswith(key):
                return int(line.split()[1]) * 1024

    before = vm("VmRSS:")
    try:
        cr.load(sys.argv[1], with_metadata=sys.argv[2] == "metadata")
        print("loaded")
    except LimitError as e:
        print(e)
    print(vm("VmHWM:") - before)
    """
)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads Linux's VmHWM")
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_file_in_its_own_process_within_200_mb(tmp_path, name):
    path = write_hostile(tmp_path, name)
    read = "structure" if name.startswith("structure") else "metadata"
    proc = subprocess.run([sys.executable, "-c", CHILD, str(path), read], capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    message, grown = proc.stdout.strip().splitlines()
    assert message.startswith(f"cr.load: {path}") and HOSTILE[name][1] in message, message
    assert "Traceback" not in proc.stderr and "RecursionError" not in proc.stdout
    assert int(grown) < 200 * MB, f"{int(grown) / MB:.0f} MB"
    print(f"{name}: {int(grown) / MB:.1f} MB")


SAVE_CHILD = textwrap.dedent(
    """
    import sys
    import chainrule as cr
    from chainrule.serialization import LimitError

    def vm(key):
        for line in open("/proc/self/status"):
            if line.startswith(key):
                return int(line.split()[1]) * 1024

    obj = []
    node = obj
    for _ in range(10**5):  # 10^5 deep, then a cycle at the bottom
        node.append([])
        node = node[0]
    node.append(obj if sys.argv[2] == "cycle" else 1)
    before = vm("VmRSS:")
    try:
        cr.save(obj, sys.argv[1])
    except LimitError as e:
        print(str(e)[:200])
    print(vm("VmHWM:") - before)
    """
)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads Linux's VmHWM")
def test_saving_a_deep_cyclic_object_is_refused_within_200_mb(tmp_path):
    path = tmp_path / "x.safetensors"
    proc = subprocess.run([sys.executable, "-c", SAVE_CHILD, str(path), "cycle"],
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    message, grown = proc.stdout.strip().splitlines()
    assert message.startswith(f"cr.save: {path}: obj[0][0]") and "nested over 100" in message
    assert int(grown) < 200 * MB
    assert not path.exists()


def test_pytorch_format_refuses_cycles_depth_and_huge_ints_but_not_size(tmp_path):
    """``torch.save`` would pickle a cycle; our PyTorch-format writer refuses it by path
    rather than recurse without end, and a nesting deeper than the limit likewise."""
    path = tmp_path / "x.pt"
    x: list = [1]
    x.append({"again": x})
    with pytest.raises(LimitError, match=rf"cr.save: {path}: obj\[1\]\['again'\] is obj itself"):
        cr.save(x, path)
    with pytest.raises(LimitError, match="nested over 100 levels deep"):
        cr.save(nested(10**5), path)
    assert not path.exists()
    cr.save({"n": list(range(MAX_ENTRIES + 1))}, path)  # any number of entries
    assert len(cr.load(path)["n"]) == MAX_ENTRIES + 1
    with pytest.raises(TypeError, match="an int of 16,610 bits is too large for PyTorch's"):
        cr.save([10**5000], path)
    with pytest.raises(LimitError, match="an int key of 5,001 digits"):  # the pickler writes keys
        cr.save({10**5000: 1}, path)
