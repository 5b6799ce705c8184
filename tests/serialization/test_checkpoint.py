"""Checkpoints: cr.save / cr.load round trips, atomic writes, and errors on bad files."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from safetensors.numpy import save_file

import chainrule as cr
from chainrule.optim import SGD, Adam, RMSprop
from chainrule.optim.lr_scheduler import CosineAnnealingLR, ReduceLROnPlateau
from chainrule.serialization import (
    CheckpointError,
    flatten,
    join_optimizer_state,
    load_metadata,
    save_load,
    split_optimizer_state,
    unflatten,
)


def _state(rng):
    return {
        "model": {
            "fc1.weight": cr.tensor(rng.standard_normal((4, 3)).astype(np.float32)),
            "fc1.bias": rng.standard_normal(4),  # float64 array
            "bn": {"num_batches_tracked": np.array(7, dtype=np.int64)},
        },
        "mask": rng.random((2, 5)) > 0.5,
        "tokens": rng.integers(-5, 5, size=(3, 2)),
        "half": rng.standard_normal(3).astype(np.float16),
        "empty": np.zeros((0, 4), dtype=np.float32),
        "scalar": np.float64(2.5),
    }


def test_round_trip_keeps_keys_dtypes_values_and_metadata(tmp_path, rng):
    state = _state(rng)
    meta = {
        "epoch": 3,
        "lr": 0.1,
        "kind": "mlp",
        "best": math.inf,
        "rng": {"bit_generator": "PCG64", "state": {"state": 2**100 + 1, "inc": 5}},
        "sizes": [784, 128, 10],
        "flag": True,
        "note": None,
        "np_number": np.float32(0.5),
    }
    path = tmp_path / "ckpt.safetensors"
    cr.save(state, path, metadata=meta)
    flat, got_meta = cr.load(path, with_metadata=True)
    expect = flatten(state)
    assert set(flat) == set(expect) == {
        "model.fc1.weight", "model.fc1.bias", "model.bn.num_batches_tracked",
        "mask", "tokens", "half", "empty", "scalar",
    }  # fmt: skip
    for key, arr in expect.items():
        assert isinstance(flat[key], cr.Tensor)
        assert flat[key].dtype == arr.dtype, key
        assert flat[key].shape == arr.shape, key
        np.testing.assert_array_equal(flat[key].numpy(), arr)
    assert flat["tokens"].dtype == np.int64 and flat["mask"].dtype == np.bool_
    assert got_meta == {**meta, "np_number": 0.5}
    assert load_metadata(path) == got_meta
    assert cr.load(path).keys() == flat.keys()
    nested = unflatten(flat)
    assert nested["model"]["fc1"]["weight"] is flat["model.fc1.weight"]
    by_part = unflatten(flat, depth=1)
    assert set(by_part["model"]) == {"fc1.weight", "fc1.bias", "bn.num_batches_tracked"}


def test_loaded_arrays_are_writable_and_independent_of_the_file(tmp_path):
    path = tmp_path / "a.safetensors"
    cr.save({"w": cr.from_numpy(np.arange(4.0))}, path)  # a tensor: an array loads as one
    w = cr.load(path)["w"]
    w.data += 1
    np.testing.assert_array_equal(cr.load(path)["w"].numpy(), np.arange(4.0))


def test_strided_arrays_are_written_in_logical_order(tmp_path, rng):
    # safetensors copies raw memory: without a contiguous copy these would come back scrambled.
    base = rng.standard_normal((4, 6))
    state = {"fortran": np.asfortranarray(base), "transposed": base.T, "strided": base[::2, 1::3]}
    path = tmp_path / "s.safetensors"
    cr.save({k: cr.from_numpy(v) for k, v in state.items()}, path)  # tensors load as tensors
    loaded = cr.load(path)
    for key, arr in state.items():
        np.testing.assert_array_equal(loaded[key].numpy(), arr)


def test_save_overwrites_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "c.safetensors"
    cr.save({"x": np.zeros(3)}, path, metadata={"epoch": 1})
    cr.save({"x": np.ones(3)}, str(path), metadata={"epoch": 2})
    np.testing.assert_array_equal(cr.load(path)["x"].numpy(), np.ones(3))
    assert load_metadata(path) == {"epoch": 2}
    assert os.listdir(tmp_path) == ["c.safetensors"]


def test_failed_write_leaves_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    cr.save({"w": np.arange(5.0)}, path, metadata={"epoch": 4})
    before = path.read_bytes()

    def half_then_fail(tensors, filename, metadata):
        save_load.save_file(tensors, filename, metadata=metadata)
        with open(filename, "r+b") as f:  # a partial file, as if the disk filled up mid-write
            f.truncate(os.path.getsize(filename) // 2)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(save_load, "_write_file", half_then_fail)
    with pytest.raises(OSError, match="No space left"):
        cr.save({"w": np.full(1000, 9.0)}, path, metadata={"epoch": 5})
    assert path.read_bytes() == before
    np.testing.assert_array_equal(cr.load(path)["w"].numpy(), np.arange(5.0))
    assert load_metadata(path) == {"epoch": 4}
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]  # the temporary file was removed


def test_kill_during_write_leaves_previous_checkpoint_intact(tmp_path):
    """SIGKILL in the middle of writing (no cleanup runs): the old file is still whole."""
    path = tmp_path / "ckpt.safetensors"
    script = textwrap.dedent(
        f"""
        import os, signal
        import numpy as np
        import chainrule as cr
        from chainrule.serialization import save_load
        cr.save({{"w": np.arange(5.0)}}, {str(path)!r}, metadata={{"epoch": 1}})
        def killed_midway(tensors, filename, metadata):
            with open(filename, "wb") as f:
                f.write(b"partial")
                f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        save_load._write_file = killed_midway
        cr.save({{"w": np.zeros(10)}}, {str(path)!r}, metadata={{"epoch": 2}})
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()
    np.testing.assert_array_equal(cr.load(path)["w"].numpy(), np.arange(5.0))
    assert load_metadata(path) == {"epoch": 1}
    # The interrupted temporary file stays (nobody was left to remove it), under its own name.
    leftovers = [n for n in os.listdir(tmp_path) if n != "ckpt.safetensors"]
    assert len(leftovers) == 1 and leftovers[0].startswith(".ckpt.safetensors.")


@pytest.mark.parametrize("keep", [0.5, 0.9, 10, 3, 0])
def test_truncated_file_is_a_clear_error(tmp_path, rng, keep):
    path = tmp_path / "cut.safetensors"
    cr.save(_state(rng), path, metadata={"epoch": 1})
    data = path.read_bytes()
    n = int(len(data) * keep) if isinstance(keep, float) else keep
    path.write_bytes(data[:n])
    with pytest.raises(CheckpointError, match=r"cut\.safetensors.*not a valid safetensors") as e:
        cr.load(path)
    assert f"file size {n} bytes" in str(e.value)
    with pytest.raises(CheckpointError, match=r"cut\.safetensors"):
        load_metadata(path)


def test_other_kinds_of_file_are_refused_without_running_them(tmp_path):
    import pickle

    class Boom:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "pwned"),))

    path = tmp_path / "model.pt"
    path.write_bytes(pickle.dumps({"w": Boom()}))
    with pytest.raises(CheckpointError, match=r"model\.pt"):
        cr.load(path)
    assert not (tmp_path / "pwned").exists()


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nothing\.safetensors: no such checkpoint file"):
        cr.load(tmp_path / "nothing.safetensors")
    with pytest.raises(FileNotFoundError, match="nothing"):
        load_metadata(tmp_path / "nothing.safetensors")
    with pytest.raises(IsADirectoryError):
        cr.load(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"directory .*no_such_dir.* does not exist"):
        cr.save({"x": np.zeros(1)}, tmp_path / "no_such_dir" / "c.safetensors")


@pytest.mark.parametrize(
    ("state", "metadata", "error", "match"),
    [
        # with metadata= (chainrule's form) plain values belong in the metadata
        ({"epoch": 3}, {}, TypeError, r"'epoch' is a int.*metadata="),
        ({"m": {"lr": 0.1}}, {}, TypeError, r"'m\.lr' is a float"),
        ({"a.b": np.zeros(1), "a": {"b": np.ones(1)}}, {}, ValueError, "same key 'a.b'"),
        ([np.zeros(1)], {}, TypeError, "expected a dict"),
        # without (PyTorch's form) any nesting of plain values is kept, but not ambiguous names
        ({"z": np.zeros(2, np.complex128)}, None, TypeError, "'z' has dtype complex128"),
        ({"s": np.array(["a"])}, None, TypeError, "'s' has dtype <U1"),
        ({"a.b": np.zeros(1), "a": {"b": np.ones(1)}}, None, ValueError, "under the name 'a.b'"),
        ({("a", 1): np.zeros(1)}, None, TypeError, "keys must be strings"),
        ({"x": np.zeros(1)}, {"f": object()}, TypeError, r"metadata\['f'\] cannot be stored"),
        ({"x": np.zeros(1)}, {"chainrule.metadata": 1}, TypeError, "metadata keys"),
        ({"f": object()}, None, TypeError, r"'f' is a object.*never pickled"),
    ],
)
def test_bad_state_is_refused_before_writing(tmp_path, state, metadata, error, match):
    path = tmp_path / "bad.safetensors"
    with pytest.raises(error, match=match):
        cr.save(state, path, metadata=metadata)
    assert os.listdir(tmp_path) == []


def test_files_from_other_tools_load_with_plain_string_metadata(tmp_path):
    path = tmp_path / "hf.safetensors"
    save_file({"w": np.ones((2, 2), np.float32)}, str(path), metadata={"format": "pt"})
    flat, meta = cr.load(path, with_metadata=True)
    assert meta == {"format": "pt"}
    np.testing.assert_array_equal(flat["w"].numpy(), np.ones((2, 2), np.float32))


def test_unflatten_conflicts():
    with pytest.raises(ValueError, match="also the prefix"):
        unflatten({"a": 1, "a.b": 2})
    with pytest.raises(ValueError, match="also the prefix"):
        unflatten({"a.b": 2, "a": 1})
    assert unflatten({"a.b.c": 1, "a.d": 2}) == {"a": {"b": {"c": 1}, "d": 2}}
    assert unflatten({"a.b.c": 1}, depth=1) == {"a": {"b.c": 1}}


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        (Adam, dict(lr=0.01, amsgrad=True, betas=(0.8, 0.99))),
        (SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
        (RMSprop, dict(centered=True, momentum=0.5)),
    ],
)
def test_training_resumes_identically_from_a_checkpoint(tmp_path, rng, cls, kwargs):
    """Model, optimiser (nested state with ints and arrays) and schedulers through one file."""
    shapes = [(3, 4), (4,), ()]
    grads = [[rng.standard_normal(s) for s in shapes] for _ in range(8)]

    def build(arrays):
        params = [cr.tensor(a.copy(), requires_grad=True) for a in arrays]
        opt = cls([{"params": params[:2]}, {"params": params[2:], "lr": 0.005}], **kwargs)
        return params, opt, CosineAnnealingLR(opt, T_max=5), ReduceLROnPlateau(opt, patience=0)

    def train(params, opt, sched, plateau, steps):
        for k, gs in enumerate(steps):
            for p, g in zip(params, gs):
                p.grad = cr.tensor(g)
            opt.step()
            sched.step()
            plateau.step(1.0 + 0.1 * (k % 2))

    params, opt, sched, plateau = build([rng.standard_normal(s) for s in shapes])
    train(params, opt, sched, plateau, grads[:4])
    tensors, opt_meta = split_optimizer_state(opt.state_dict())
    path = tmp_path / "run.safetensors"
    cr.save(
        {"model": {f"p{i}": p for i, p in enumerate(params)}, "optimizer": tensors},
        path,
        metadata={
            "epoch": 4,
            "optimizer": opt_meta,
            "scheduler": sched.state_dict(),
            "plateau": plateau.state_dict(),
        },
    )

    flat, meta = cr.load(path, with_metadata=True)
    parts = unflatten(flat, depth=1)
    params2, opt2, sched2, plateau2 = build([parts["model"][f"p{i}"].numpy() for i in range(3)])
    opt2.load_state_dict(join_optimizer_state(parts.get("optimizer"), meta["optimizer"]))
    sched2.load_state_dict(meta["scheduler"])
    plateau2.load_state_dict(meta["plateau"])
    assert meta["epoch"] == 4
    assert opt2.param_groups[1]["lr"] == opt.param_groups[1]["lr"]
    assert all(type(s["step"]) is int for s in opt2.state.values() if "step" in s)

    train(params, opt, sched, plateau, grads[4:])
    train(params2, opt2, sched2, plateau2, grads[4:])
    for p, q in zip(params, params2):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
    assert sched.get_last_lr() == sched2.get_last_lr()
    assert plateau.get_last_lr() == plateau2.get_last_lr()


def test_optimizer_state_before_any_step_round_trips(tmp_path):
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    opt = Adam([w], lr=0.3)
    tensors, meta = split_optimizer_state(opt.state_dict())
    assert tensors == {}
    path = tmp_path / "fresh.safetensors"
    cr.save({"optimizer": tensors, "w": w}, path, metadata={"optimizer": meta})
    flat, md = cr.load(path, with_metadata=True)
    opt2 = Adam([w])
    opt2.load_state_dict(
        join_optimizer_state(unflatten(flat, depth=1).get("optimizer"), md["optimizer"])
    )
    assert opt2.param_groups[0]["lr"] == 0.3 and opt2.param_groups[0]["betas"] == (0.9, 0.999)
    with pytest.raises(CheckpointError, match="unexpected key 'weights'"):
        join_optimizer_state({"weights": np.zeros(1)}, md["optimizer"])
    with pytest.raises(CheckpointError, match="no 'param_groups'"):
        join_optimizer_state({}, {})
