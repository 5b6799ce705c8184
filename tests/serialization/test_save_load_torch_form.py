"""cr.save(obj, f) / cr.load(f) as PyTorch programs call them: any nesting of state dicts,
numbers and strings, to a path or a file object, in safetensors (never pickle)."""

import io
import pickle

import numpy as np
import pytest

import chainrule as cr
from chainrule.serialization import CheckpointError


def _trained(seed=0):
    cr.manual_seed(seed)
    model = cr.nn.Sequential(cr.nn.Linear(3, 4), cr.nn.Tanh(), cr.nn.Linear(4, 2))
    opt = cr.optim.Adam(model.parameters(), lr=0.01)
    sched = cr.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    return model, opt, sched


def _step(model, opt, sched, x):
    opt.zero_grad()
    loss = (model(x) ** 2).mean()
    loss.backward()
    opt.step()
    sched.step()
    return loss.item()


def test_the_object_comes_back_as_it_was_saved(tmp_path):
    obj = {
        "w": cr.tensor([[1.0, 2.0]], dtype=cr.float64),
        "ids": cr.tensor([1, 2, 3]),
        "mask": cr.tensor([True, False]),
        "array": np.arange(3, dtype=np.int32),
        "state": {0: {"step": 4, "buf": cr.ones(2)}, 1: {}},
        "pair": (1, "two"),
        "history": [0.5, 0.25, None, True],
        "name": "run-1",
    }
    cr.save(obj, tmp_path / "ck.pt")
    # A NumPy array in a .pt file needs weights_only=False, as torch.load's does (issue 27).
    with pytest.raises(pickle.UnpicklingError, match=r"GLOBAL numpy\._?core\.multiarray"):
        cr.load(tmp_path / "ck.pt", map_location="cpu", weights_only=True)
    back = cr.load(tmp_path / "ck.pt", map_location="cpu", weights_only=False)
    assert set(back) == set(obj) and list(back["state"]) == [0, 1]  # int keys stay ints
    assert back["pair"] == (1, "two") and back["history"] == [0.5, 0.25, None, True]
    assert back["name"] == "run-1" and back["state"][0]["step"] == 4
    assert back["w"].dtype == np.float64 and back["w"].tolist() == [[1.0, 2.0]]
    assert back["ids"].dtype == np.int64 and back["mask"].tolist() == [True, False]
    assert back["array"].dtype == np.int32 and isinstance(back["array"], np.ndarray)


def test_resuming_from_a_whole_training_checkpoint_continues_exactly(tmp_path):
    # float32, the model's dtype: a float64 batch into a float32 Linear is PyTorch's RuntimeError
    x = cr.tensor(np.random.default_rng(0).standard_normal((8, 3)), dtype=cr.float32)
    model, opt, sched = _trained()
    for _ in range(3):
        _step(model, opt, sched, x)
    cr.save(
        {"model": model.state_dict(), "optimizer": opt.state_dict(),
         "scheduler": sched.state_dict(), "epoch": 3},
        tmp_path / "ck.pt",
    )  # fmt: skip
    want = [_step(model, opt, sched, x) for _ in range(3)]

    model2, opt2, sched2 = _trained(seed=1)  # other weights, to be overwritten
    ck = cr.load(tmp_path / "ck.pt")
    model2.load_state_dict(ck["model"])
    opt2.load_state_dict(ck["optimizer"])
    sched2.load_state_dict(ck["scheduler"])
    assert ck["epoch"] == 3
    got = [_step(model2, opt2, sched2, x) for _ in range(3)]
    assert got == want


def test_a_file_object_works_as_a_path_does():
    model, _, _ = _trained()
    buf = io.BytesIO()
    cr.save(model.state_dict(), buf)
    buf.seek(0)
    back = cr.load(buf)
    assert list(back) == list(model.state_dict())
    np.testing.assert_array_equal(back["0.weight"].numpy(), model[0].weight.numpy())


def test_refusals_name_what_is_wrong(tmp_path):
    model, _, _ = _trained()
    with pytest.raises(TypeError, match=r"Module; .*Save its state_dict\(\)"):
        cr.save(model, tmp_path / "m.pt")
    with pytest.raises(TypeError, match=r"'cfg.fn' is a builtin_function_or_method.*never pickled"):
        cr.save({"cfg": {"fn": print}}, tmp_path / "f.pt")
    assert not (tmp_path / "f.pt").exists()  # nothing half-written
    cr.save(model.state_dict(), tmp_path / "ok.pt")
    with pytest.raises(RuntimeError, match="no GPU backend"):
        cr.load(tmp_path / "ok.pt", map_location="cuda:0")
    assert cr.load(tmp_path / "ok.pt", map_location=lambda storage, loc: storage)
    with pytest.raises(CheckpointError, match="not a valid safetensors checkpoint"):
        cr.load(io.BytesIO(b"\\x80\\x04 not a checkpoint"))


def test_strict_false_returns_the_missing_and_unexpected_keys():
    model, _, _ = _trained()
    sd = model.state_dict()
    sd["extra"] = cr.zeros(1)
    del sd["2.bias"]
    result = model.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["2.bias"] and result.unexpected_keys == ["extra"]


def test_a_pytorch_state_dict_moves_across_through_safetensors(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    save_file(net.state_dict(), tmp_path / "from_torch.safetensors")
    model, _, _ = _trained()
    model.load_state_dict(cr.load(tmp_path / "from_torch.safetensors"))
    x = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(
        model(cr.tensor(x)).numpy(), net(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6
    )
