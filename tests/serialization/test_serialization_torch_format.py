"""PyTorch's checkpoint format both ways (issue 27): files written by ``torch.save`` load into
chainrule's models, optimisers and schedulers; ``cr.save(..., "m.pt")`` is read by
``torch.load(weights_only=True)``; and hostile pickles are refused without running anything."""

import collections
import io
import os
import pickle
import zipfile

import numpy as np
import pytest

import chainrule as cr
from chainrule.serialization import CheckpointError

torch = pytest.importorskip("torch")


def _torch_run(steps=2):
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2)
    )
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    x = torch.tensor(np.random.default_rng(0).standard_normal((8, 3)), dtype=torch.float32)
    for _ in range(steps):
        opt.zero_grad()
        (net(x) ** 2).mean().backward()
        opt.step()
        sched.step()
    return net, opt, sched, x


def _chainrule_like():
    net = cr.nn.Sequential(
        cr.nn.Linear(3, 4), cr.nn.Tanh(), cr.nn.BatchNorm1d(4), cr.nn.Linear(4, 2)
    )
    opt = cr.optim.Adam(net.parameters(), lr=0.01)
    sched = cr.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    return net, opt, sched


def test_a_torch_training_checkpoint_resumes_in_chainrule(tmp_path):
    net, opt, sched, x = _torch_run()
    path = tmp_path / "ckpt.pth"
    torch.save({"model": net.state_dict(), "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(), "epoch": 2}, path)  # fmt: skip
    ck = cr.load(path, weights_only=True)
    assert isinstance(ck["model"], collections.OrderedDict) and ck["epoch"] == 2
    ours, our_opt, our_sched = _chainrule_like()
    ours.load_state_dict(ck["model"])
    our_opt.load_state_dict(ck["optimizer"])
    our_sched.load_state_dict(ck["scheduler"])
    for (name, a), b in zip(ours.state_dict().items(), net.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)
        assert a.dtype == np.dtype(str(b.dtype).removeprefix("torch.")), name
    for idx, state in opt.state_dict()["state"].items():
        np.testing.assert_array_equal(our_opt.state[idx]["exp_avg"], state["exp_avg"].numpy())
        assert our_opt.state[idx]["step"] == int(state["step"])
    assert our_sched.get_last_lr() == sched.get_last_lr() and our_sched.last_epoch == 2
    # One more step on both sides: the same numbers, so the whole state came across.
    xs = cr.tensor(x.numpy())
    for model, optimiser, scheduler, data in ((ours, our_opt, our_sched, xs), (net, opt, sched, x)):
        optimiser.zero_grad()
        (model(data) ** 2).mean().backward()
        optimiser.step()
        scheduler.step()
    for a, b in zip(ours.parameters(), net.parameters()):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-7)


def test_cr_save_pt_is_read_by_torch_load_weights_only(tmp_path):
    ours, our_opt, our_sched = _chainrule_like()
    x = cr.tensor(np.random.default_rng(1).standard_normal((8, 3)).astype(np.float32))
    (ours(x) ** 2).mean().backward()
    our_opt.step()
    our_sched.step()
    w = cr.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=cr.float64, requires_grad=True)
    obj = {"model": ours.state_dict(), "optimizer": our_opt.state_dict(),
           "scheduler": our_sched.state_dict(), "w": w, "ids": cr.tensor([3, -1]),
           "mask": cr.tensor([True, False]), "loss": (w * w).sum(), "epoch": 7,
           "weight": ours[0].weight, "history": [0.5, None, (1, "a")]}  # fmt: skip
    cr.save(obj, tmp_path / "m.pt")
    back = torch.load(tmp_path / "m.pt", weights_only=True)
    assert back["epoch"] == 7 and back["history"] == [0.5, None, (1, "a")]
    for key in ("w", "ids", "mask"):
        np.testing.assert_array_equal(back[key].numpy(force=True), obj[key].numpy())
        assert str(back[key].dtype) == f"torch.{obj[key].dtype}"
    assert back["w"].requires_grad and not back["ids"].requires_grad
    assert back["loss"].shape == () and back["loss"].item() == 30.0
    assert isinstance(back["weight"], torch.nn.Parameter) and back["weight"].requires_grad
    net, opt, sched, _ = _torch_run(steps=0)
    net.load_state_dict(back["model"])  # strict: every name and shape is torch's
    opt.load_state_dict(back["optimizer"])
    sched.load_state_dict(back["scheduler"])
    for a, b in zip(ours.parameters(), net.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.detach().numpy())
    exp_avg = opt.state_dict()["state"][0]["exp_avg"].numpy()
    np.testing.assert_array_equal(exp_avg, our_opt.state[0]["exp_avg"])
    assert sched.get_last_lr() == our_sched.get_last_lr()


def test_views_saved_by_torch_come_back_as_views(tmp_path):
    base = torch.arange(24.0).view(4, 6)
    obj = {"base": base, "t": base.t(), "row": base[2], "cols": base[:, 1::2],
           "flat": base.view(-1)[5:17], "expanded": torch.ones(3, 1).expand(3, 4)}  # fmt: skip
    torch.save(obj, tmp_path / "views.pt")
    back = cr.load(tmp_path / "views.pt")
    for key, value in obj.items():
        np.testing.assert_array_equal(back[key].numpy(), value.numpy(), err_msg=key)
    assert np.shares_memory(back["row"].numpy(), back["base"].numpy())  # as in torch
    assert not back["expanded"].numpy().flags.writeable  # read-only, as chainrule's expand()
    assert back["t"].numpy().flags.writeable


def test_cr_save_keeps_views_sharing_their_storage(tmp_path):
    base = cr.arange(12.0).reshape(3, 4)
    cr.save({"base": base, "t": base.T, "row": base[1], "every2": base[:, ::2]}, tmp_path / "v.pt")
    back = torch.load(tmp_path / "v.pt", weights_only=True)
    assert back["row"].untyped_storage().data_ptr() == back["base"].untyped_storage().data_ptr()
    assert back["t"].stride() == (1, 4) and back["row"].storage_offset() == 4
    for key in ("base", "t", "row", "every2"):
        np.testing.assert_array_equal(back[key].numpy(), cr.load(tmp_path / "v.pt")[key].numpy())
    wide = cr.tensor([[1.0], [2.0]]).expand(2, 3)  # stride 0, as torch writes an expand
    cr.save({"wide": wide}, tmp_path / "e.pt")
    theirs = torch.load(tmp_path / "e.pt", weights_only=True)["wide"]
    assert theirs.stride() == (1, 0) and theirs.tolist() == wide.tolist()


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_numpy_arrays_and_requires_grad_round_trip(tmp_path, suffix):
    path = tmp_path / f"x{suffix}"
    obj = {"array": np.arange(3, dtype=np.int16), "scalar": np.float32(1.5),
           "w": cr.ones(2, requires_grad=True), "loss": cr.tensor([1.0, 2.0]).sum()}  # fmt: skip
    cr.save(obj, path)
    back = cr.load(path, weights_only=False)
    assert type(back["array"]) is np.ndarray and back["array"].dtype == np.int16
    assert type(back["scalar"]) is np.float32 and back["scalar"] == 1.5
    assert isinstance(back["w"], cr.Tensor) and back["w"].requires_grad
    assert back["loss"].shape == () and back["loss"].item() == 3.0
    if suffix == ".pt":  # torch reads it as it reads its own: NumPy needs weights_only=False
        theirs = torch.load(path, weights_only=False)
        assert type(theirs["array"]) is np.ndarray and theirs["w"].requires_grad


def test_numpy_arrays_need_weights_only_false_as_in_torch(tmp_path):
    torch.save({"data": np.arange(4.0)}, tmp_path / "traindata.pt")
    with pytest.raises(pickle.UnpicklingError, match="numpy"):
        torch.load(tmp_path / "traindata.pt", weights_only=True)
    with pytest.raises(pickle.UnpicklingError, match=r"traindata\.pt.*GLOBAL numpy.*weights_only"):
        cr.load(tmp_path / "traindata.pt")
    with pytest.raises(pickle.UnpicklingError, match="numpy"):  # None: torch's default, True
        cr.load(tmp_path / "traindata.pt", weights_only=None)
    back = cr.load(tmp_path / "traindata.pt", weights_only=False)
    assert type(back["data"]) is np.ndarray and back["data"].tolist() == [0.0, 1.0, 2.0, 3.0]


def test_a_file_object_and_its_name_choose_the_format(tmp_path):
    buf = io.BytesIO()
    torch.save({"w": torch.arange(3)}, buf)
    buf.seek(0)
    assert cr.load(buf)["w"].tolist() == [0, 1, 2]
    with open(tmp_path / "f.pt", "wb") as fh:  # time_sequence_prediction's way
        cr.save({"w": cr.arange(2)}, fh)
    assert zipfile.is_zipfile(tmp_path / "f.pt")
    assert torch.load(tmp_path / "f.pt")["w"].tolist() == [0, 1]


def test_dtypes_cross_both_ways(tmp_path):
    names = ["float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint8",
             "bool", "complex64", "uint16"]  # fmt: skip
    obj = {n: torch.arange(4).to(getattr(torch, n)) for n in names}
    obj["bfloat16"] = torch.tensor([1.5, -2.0], dtype=torch.bfloat16)
    torch.save(obj, tmp_path / "d.pt")
    back = cr.load(tmp_path / "d.pt")
    for name, value in obj.items():
        assert back[name].dtype.name == name
        want = value.to(torch.complex128 if value.is_complex() else torch.float64).numpy()
        np.testing.assert_array_equal(back[name].numpy().astype(want.dtype), want, err_msg=name)
    cr.save(back, tmp_path / "again.pt")
    again = torch.load(tmp_path / "again.pt", weights_only=True)
    for name, value in obj.items():
        assert again[name].dtype == value.dtype and torch.equal(again[name], value), name


def test_bfloat16_without_ml_dtypes_is_a_clear_error(tmp_path, monkeypatch):
    torch.save({"h": torch.ones(2, dtype=torch.bfloat16)}, tmp_path / "bf.pt")
    monkeypatch.setitem(__import__("sys").modules, "ml_dtypes", None)
    with pytest.raises(CheckpointError, match=r"bf\.pt holds bfloat16.*install ml_dtypes"):
        cr.load(tmp_path / "bf.pt")


def test_the_legacy_format_is_read(tmp_path):
    torch.manual_seed(0)
    net = torch.nn.Linear(3, 2)
    base = torch.arange(6.0).view(2, 3)
    obj = {"model": net.state_dict(), "t": base.t(), "row": base[1], "n": 3}
    torch.save(obj, tmp_path / "old.pt", _use_new_zipfile_serialization=False)
    assert not zipfile.is_zipfile(tmp_path / "old.pt")
    back = cr.load(tmp_path / "old.pt")
    assert back["n"] == 3 and list(back["model"]) == ["weight", "bias"]
    for key in ("t", "row"):
        np.testing.assert_array_equal(back[key].numpy(), obj[key].numpy())
    np.testing.assert_array_equal(back["model"]["weight"].numpy(), net.weight.detach().numpy())


# ----- files that must not load: hostile, damaged, or needing a device chainrule lacks -----
def _frag(value):
    """``value``'s protocol-2 pickle without its header and STOP, to splice by hand."""
    return pickle.dumps(value, protocol=2)[2:-1]


def _tensor_pickle(size, stride, offset=0, numel=4, location="cpu"):
    """What torch.save writes for one float32 tensor over storage "0" (by hand, so that its
    fields can be made wrong)."""
    storage = (b"(" + _frag("storage") + b"ctorch\nFloatStorage\n" + _frag("0")
               + _frag(location) + _frag(numel) + b"tQ")  # fmt: skip
    return (b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n(" + storage + _frag(offset)
            + _frag(tuple(size)) + _frag(tuple(stride)) + b"\x89"
            + b"ccollections\nOrderedDict\n)RtR.")  # fmt: skip


def _torch_zip(path, data_pkl, storages=None):
    """A zip laid out as torch.save lays it out, around the pickle ``data_pkl``."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", data_pkl)
        zf.writestr("archive/byteorder", b"little")
        for key, raw in (storages or {}).items():
            zf.writestr(f"archive/data/{key}", raw)
        zf.writestr("archive/version", b"3\n")
    return path


def test_the_hand_built_tensor_pickle_is_what_torch_reads(tmp_path):
    raw = np.arange(4, dtype=np.float32).tobytes()
    path = _torch_zip(tmp_path / "ok.pt", _tensor_pickle((2, 2), (1, 2)), {"0": raw})
    assert torch.load(path, weights_only=True).tolist() == [[0.0, 2.0], [1.0, 3.0]]
    assert cr.load(path).tolist() == [[0.0, 2.0], [1.0, 3.0]]


def test_a_reduce_payload_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    data = pickle.dumps({"weight": Payload()}, protocol=2)
    path = _torch_zip(tmp_path / "evil.pt", data)
    global_name = f"{os.system.__module__}.system"  # posix.system
    with pytest.raises(pickle.UnpicklingError, match=rf"evil\.pt.*GLOBAL {global_name}\b"):
        cr.load(path)
    with pytest.raises(pickle.UnpicklingError):  # the same kind of error as torch's
        torch.load(path, weights_only=True)
    assert not marker.exists()
    raw = tmp_path / "evil_raw.pth"  # a bare pickle, not a zip: refused by name too
    raw.write_bytes(pickle.dumps({"weight": Payload()}, protocol=4))
    with pytest.raises(pickle.UnpicklingError, match=rf"evil_raw\.pth.*GLOBAL {global_name}"):
        cr.load(raw)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("func", "args", "name"),
    [
        (eval, ("__import__('os').system('touch {marker}')",), "builtins.eval"),
        (exec, ("open('{marker}', 'w')",), "builtins.exec"),
        ("subprocess.Popen", (["touch", "{marker}"],), "subprocess.Popen"),
        (getattr, (print, "__self__"), "builtins.getattr"),
        (
            "torch.load",
            ("{marker}",),
            "torch.serialization.load",
        ),  # a torch name, but not an allowed one
    ],
    ids=["eval", "exec", "Popen", "getattr", "torch.load"],
)
def test_unknown_globals_are_refused_by_name(tmp_path, func, args, name):
    marker = tmp_path / "marker"
    if isinstance(func, str):
        module, attr = func.rsplit(".", 1)
        func = getattr(__import__(module, fromlist=[attr]), attr)
    args = tuple(a.format(marker=marker) if isinstance(a, str) else a for a in args)
    args = tuple([x.format(marker=marker) for x in a] if isinstance(a, list) else a for a in args)

    class Payload:
        def __reduce__(self):
            return (func, args)

    path = _torch_zip(tmp_path / "bad.pt", pickle.dumps([Payload()], protocol=2))
    with pytest.raises(pickle.UnpicklingError, match=rf"bad\.pt.*GLOBAL {name}\b") as e:
        cr.load(path, weights_only=False)  # weights_only=False changes nothing
    assert "nothing was imported or called" in str(e.value)
    assert not marker.exists()


def test_a_pickle_cannot_set_attributes_on_what_it_rebuilds(tmp_path):
    data = _tensor_pickle((4,), (1,))
    data = data[:-1] + b"}(" + _frag("_version") + _frag("x") + b"ub."  # BUILD on the tensor
    raw = np.arange(4, dtype=np.float32).tobytes()
    path = _torch_zip(tmp_path / "build.pt", data, {"0": raw})
    with pytest.raises(pickle.UnpicklingError, match=r"build\.pt.*set the state"):
        cr.load(path)


def test_a_view_past_its_storage_is_refused(tmp_path):
    raw = np.arange(4, dtype=np.float32).tobytes()
    path = _torch_zip(tmp_path / "oob.pt", _tensor_pickle((3, 2), (2, 1)), {"0": raw})
    with pytest.raises(CheckpointError, match=r"oob\.pt.*reaches element 5 .* which has 4"):
        cr.load(path)
    huge = _torch_zip(tmp_path / "huge.pt", _tensor_pickle((2**40, 2**40), (0, 0)), {"0": raw})
    with pytest.raises(CheckpointError, match=r"huge\.pt: a tensor of size \(1099511627776,"):
        cr.load(huge)  # every position on element 0: in bounds, but too large for an array
    short = _torch_zip(tmp_path / "short.pt", _tensor_pickle((4,), (1,)), {"0": raw[:8]})
    with pytest.raises(CheckpointError, match=r"short\.pt: storage '0' holds 8 bytes"):
        cr.load(short)
    missing = _torch_zip(tmp_path / "missing.pt", _tensor_pickle((4,), (1,)))
    with pytest.raises(CheckpointError, match=r"missing\.pt: storage '0' is missing"):
        cr.load(missing)


def test_a_tensor_saved_on_a_gpu_needs_map_location(tmp_path):
    raw = np.arange(4, dtype=np.float32).tobytes()
    path = _torch_zip(
        tmp_path / "gpu.pt", _tensor_pickle((4,), (1,), location="cuda:0"), {"0": raw}
    )
    with pytest.raises(
        RuntimeError, match=r"gpu\.pt holds tensors saved on 'cuda:0'.*map_location"
    ):
        cr.load(path)
    assert cr.load(path, map_location="cpu").tolist() == [0.0, 1.0, 2.0, 3.0]
    assert cr.load(path, map_location=lambda storage, loc: storage).shape == (4,)


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95, 0.999])
def test_a_cut_zip_is_named_in_the_error(tmp_path, keep):
    path = tmp_path / "cut.pt"
    torch.save({"w": torch.arange(100.0)}, path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(CheckpointError, match=r"cut\.pt.*not a valid PyTorch zip checkpoint"):
        cr.load(path)


def test_a_damaged_storage_fails_its_checksum(tmp_path):
    path = tmp_path / "flip.pt"
    cr.save({"w": cr.arange(100.0)}, path)
    data = bytearray(path.read_bytes())
    at = data.index(np.arange(100.0, dtype=np.float32)[50:52].tobytes())
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"flip\.pt.*(CRC|not a valid)"):
        cr.load(path)


def test_a_zip_that_is_no_checkpoint(tmp_path):
    with zipfile.ZipFile(tmp_path / "other.pt", "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(CheckpointError, match=r"other\.pt is a zip file without data\.pkl"):
        cr.load(tmp_path / "other.pt")


def test_a_whole_module_is_still_refused(tmp_path):
    with pytest.raises(TypeError, match=r"Module; .*state_dict"):
        cr.save(cr.nn.Linear(2, 1), tmp_path / "m.pt")
    with pytest.raises(TypeError, match=r"'layers.0' is a Module"):
        cr.save({"layers": [cr.nn.Linear(2, 1)]}, tmp_path / "m.pt")
    assert not (tmp_path / "m.pt").exists()


def test_the_plain_values_torch_allows_cross_both_ways(tmp_path):
    obj = {"set": {1, 2}, "complex": 1 - 2j, "bytes": b"\x00\xffab", "big": -(2**70),
           "counter": collections.Counter("aab"), "none": None, "float": 0.1}  # fmt: skip
    theirs = {**obj, "size": torch.Size([2, 3]), "device": torch.device("cpu"),
              "dtype": torch.float16}  # fmt: skip
    torch.save(theirs, tmp_path / "t.pt")
    back = cr.load(tmp_path / "t.pt")
    assert {k: back[k] for k in obj} == obj and type(back["counter"]) is collections.Counter
    assert back["size"] == (2, 3) and isinstance(back["size"], cr.Size)
    assert back["device"] == cr.device("cpu") and back["dtype"] == cr.float16
    cr.save(back, tmp_path / "c.pt")
    again = torch.load(tmp_path / "c.pt", weights_only=True)
    assert again == theirs and type(again["counter"]) is collections.Counter


def test_numpy_records_are_checked_even_with_weights_only_false(tmp_path):
    # numpy's own pickle of an array, by hand: a shape whose int64 product wraps to 0 and
    # no bytes, so that a check in int64 would pass it
    enc = b"c_codecs\nencode\n" + _frag("") + _frag("latin1") + b"\x86R"
    state = _frag((3, "<", None, None, None, -1, -1, 0))
    dtype = b"cnumpy\ndtype\n" + _frag("f8") + b"\x89\x88\x87R" + state + b"b"
    head = b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
    array = head + _frag((0,)) + _frag(b"b") + b"\x87R("
    data = array + _frag(1) + _frag((2**32, 2**32)) + dtype + b"\x89" + enc + b"tb."
    path = _torch_zip(tmp_path / "wrap.pt", data)
    with pytest.raises(CheckpointError, match=r"wrap\.pt: a NumPy array of shape .* do not fit"):
        cr.load(path, weights_only=False)
    objects = _torch_zip(tmp_path / "obj.pt", pickle.dumps(np.array([1, "a"], dtype=object), 2))
    with pytest.raises(CheckpointError, match=r"obj\.pt: a NumPy array whose pickled state"):
        cr.load(objects, weights_only=False)
    cr.save({"empty": np.zeros((0, 3)), "t": cr.zeros(0, 2)}, tmp_path / "e.pt")
    back = cr.load(tmp_path / "e.pt", weights_only=False)
    assert back["empty"].shape == (0, 3) and back["t"].shape == (0, 2)
    assert torch.load(tmp_path / "e.pt", weights_only=False)["empty"].shape == (0, 3)


def test_a_whole_torch_module_is_refused_with_the_way_out(tmp_path):
    torch.save(torch.nn.Linear(2, 1), tmp_path / "whole.pt")
    with pytest.raises(
        pickle.UnpicklingError,
        match=r"whole\.pt.*GLOBAL torch\.nn\.modules\.linear\.Linear.*save model\.state_dict",
    ):
        cr.load(tmp_path / "whole.pt", weights_only=False)
    t = torch.ones(2)
    t.note = "extra"  # a Python attribute: torch pickles it through _rebuild_from_type_v2
    torch.save(t, tmp_path / "attr.pt")
    with pytest.raises(pickle.UnpicklingError, match=r"attr\.pt.*cannot rebuild.*attributes"):
        cr.load(tmp_path / "attr.pt")
