"""Issue 15, item 5: messages that did not say which file or flag. Wrong-shaped and extra tensors,
malformed metadata of both kinds of model file, and training images of another size than the
test images: each one line through the CLI, naming the file, with exit code 2. (The bomb PNG is
in test_hostile_images.py, ``--seed -1`` and ``--train-size 0`` in test_hostile_inputs.py.)"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import chainrule as cr
from chainrule.captioning import save_captioner
from chainrule.cli.main import main
from chainrule.datasets import DatasetFormatError, load_splits, write_idx
from chainrule.datasets import mnist as mnist_module
from chainrule.datasets.fashion_scenes import scene_vocabulary
from chainrule.models.captioner import Captioner
from chainrule.models.nielsen import Nielsen
from chainrule.training.classifier_state import save_model


def one_line_error(capsys, argv) -> str:
    """Runs the CLI; asserts exit code 2 and one error line (plus the fixed debug hint)."""
    assert main(argv) == 2
    out = capsys.readouterr()
    err = out.err.strip().splitlines()
    assert len(err) == 2 and err[1].startswith("  (set CHAINRULE_DEBUG=1"), out.err
    assert "Traceback" not in out.out + out.err
    return err[0]


@pytest.fixture
def classifier_file(tmp_path):
    path = tmp_path / "model.safetensors"
    meta = {"model": "nielsen", "data": "digits", "input_shape": [1, 8, 8], "num_classes": 10,
            "flatten": True}  # fmt: skip
    save_model(str(path), Nielsen([64, 30, 10]), meta, 1)
    return path


@pytest.fixture
def captioner_file(tmp_path):
    vocab = scene_vocabulary()
    cr.manual_seed(0)
    model = Captioner(vocab_size=len(vocab), channels=(4, 8, 8), embed_dim=8, hidden_dim=16,
                      attention_dim=8, dropout=0.0)  # fmt: skip
    path = tmp_path / "captioner.safetensors"
    save_captioner(str(path), model, vocab, {"epoch": 1})
    return path


def rewrite(path, tensors=None, meta=None) -> None:
    """Saves ``path`` again with tensors or metadata changed in place by the callables given."""
    t, m = cr.load(path, with_metadata=True)
    t = {k: v.numpy() for k, v in t.items()}
    m = json.loads(json.dumps(m))
    if tensors:
        tensors(t)
    if meta:
        meta(m)
    cr.save(t, path, m)


# ----- tensors that do not fit -----
TENSOR_CASES = {
    "extra": (lambda t: t.update(junk=np.zeros(3)), 'Unexpected key(s) in state_dict: "junk"'),
    "missing": (lambda t: t.pop("layers.1.bias"), 'Missing key(s) in state_dict: "layers.1.bias"'),
    "shape": (
        lambda t: t.update({"layers.0.weight": np.zeros((30, 65), np.float32)}),
        "size mismatch for layers.0.weight: copying a param with shape (30, 65)",
    ),
}


@pytest.mark.parametrize("case", sorted(TENSOR_CASES))
def test_tensors_that_do_not_fit_are_one_line_naming_the_file(classifier_file, capsys, case):
    change, says = TENSOR_CASES[case]
    rewrite(classifier_file, tensors=change)
    msg = one_line_error(capsys, ["eval", str(classifier_file)])
    assert msg.startswith(f"chainrule eval: error: {classifier_file}: the weights do not fit")
    assert says in msg and "Error(s) in loading" not in msg


def test_captioner_tensors_that_do_not_fit_are_one_line_naming_the_file(captioner_file, capsys):
    rewrite(captioner_file, tensors=lambda t: t.update(bogus=np.zeros(2, np.float32)))
    msg = one_line_error(capsys, ["caption", "eval", str(captioner_file), "--size", "2"])
    assert f"{captioner_file}: the weights do not fit" in msg and '"bogus"' in msg


# ----- malformed metadata -----
@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda m: m.pop("model"), "'model' must be one of ['cnn', 'mlp', 'nielsen'], got None"),
        (lambda m: m.update(model=3), "'model' must be one of"),
        (lambda m: m.update(input_shape=["8", "8"]), "'input_shape' must be a list of 1 or 3"),
        (lambda m: m.update(input_shape="1,8,8"), "'input_shape' must be a list"),
        (lambda m: m.update(num_classes="ten"), "'num_classes' must be a whole number >= 1"),
        (lambda m: m.update(num_classes=10.5), "'num_classes' must be a whole number >= 1"),
        (lambda m: m.update(epoch="x"), "'epoch' must be a whole number >= 1"),
        (lambda m: m.update(flatten="yes"), "'flatten' must be true or false"),
        (lambda m: m.update(data=None), "'data' must be one of ['digits', 'fashion-mnist'"),
        (lambda m: m.update(data="imagenet"), "'data' must be one of ['digits', 'fashion-mnist'"),
    ],
)
def test_malformed_model_metadata_is_one_line(classifier_file, capsys, change, says):
    rewrite(classifier_file, meta=change)
    msg = one_line_error(capsys, ["eval", str(classifier_file)])
    assert f"{classifier_file}: malformed metadata: " in msg and says in msg
    for internal in ("ufunc", "invalid literal", "missing key", "__init__"):
        assert internal not in msg


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda m: m["config"].update(bogus=1), "unknown config key 'bogus'"),
        (lambda m: m["config"].update(hidden_dim="16"), "config 'hidden_dim' must be a whole"),
        (lambda m: m["config"].update(hidden_dim=16.0), "config 'hidden_dim' must be a whole"),
        (lambda m: m["config"].update(dropout="x"), "config 'dropout' must be a number"),
        (lambda m: m["config"].update(channels="4,8,8"), "config 'channels' must be 3 whole"),
        (lambda m: m["config"].update(attention="yes"), "config 'attention' must be true or"),
        (lambda m: m.update(config=[1]), "the config must be a dict, got list"),
        (lambda m: m.pop("config"), "the config must be a dict"),
        (lambda m: m.update(vocab="abc"), "'vocab' must be the vocabulary, a list of words"),
        (lambda m: m.update(vocab=[1, 2]), "'vocab' must be the vocabulary"),
    ],
)
def test_malformed_captioner_metadata_is_one_line(captioner_file, capsys, change, says):
    rewrite(captioner_file, meta=change)
    msg = one_line_error(capsys, ["caption", "eval", str(captioner_file), "--size", "2"])
    assert f"{captioner_file}: malformed metadata: " in msg and says in msg
    assert "unexpected keyword argument" not in msg


# ----- splits whose images differ in size -----
@pytest.fixture
def mixed_sizes(tmp_path, monkeypatch):
    """MNIST-format splits: 28x28 training images, 32x32 test images."""
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    monkeypatch.setattr(mnist_module, "MNIST_SYSTEM_DIRS", [str(tmp_path / "none")])
    rng = np.random.default_rng(0)
    root = tmp_path / "data"
    root.mkdir()
    for prefix, n, side in (("train", 60, 28), ("t10k", 20, 32)):
        write_idx(root / f"{prefix}-images-idx3-ubyte.gz",
                  rng.integers(0, 256, (n, side, side), dtype=np.uint8))  # fmt: skip
        write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", (np.arange(n) % 10).astype(np.uint8))
    return root


def test_splits_of_different_image_sizes_are_refused_naming_both_files(mixed_sizes):
    with pytest.raises(DatasetFormatError) as e:
        load_splits("mnist", root=mixed_sizes, val_size=10)
    test_file = os.path.join(mixed_sizes, "t10k-images-idx3-ubyte.gz")
    train_file = os.path.join(mixed_sizes, "train-images-idx3-ubyte.gz")
    assert str(e.value) == (
        f"{test_file}: the test images are 32x32 but the training images ({train_file}) are "
        "28x28; both splits must come from the same data set"
    )


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_cli_train_refuses_mixed_sizes_before_training(mixed_sizes, tmp_path, capsys, model):
    """It used to fail after a whole epoch, at the first test batch, inside ``linear``."""
    out = tmp_path / "out"
    argv = ["train", model, "--data", "mnist", "--root", str(mixed_sizes), "--val-size", "10",
            "--epochs", "1", "--out", str(out)]  # fmt: skip
    msg = one_line_error(capsys, argv)
    assert "t10k-images-idx3-ubyte.gz: the test images are 32x32" in msg
    assert not out.exists() or os.listdir(out) == []


def test_a_val_size_larger_than_the_training_split_names_the_flag(
    mixed_sizes, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)  # the default --out is runs/ here
    argv = ["train", "mlp", "--data", "mnist", "--root", str(mixed_sizes), "--epochs", "1"]
    msg = one_line_error(capsys, argv)
    assert "the training split has 60 rows, too few to hold out val_size=10000" in msg
    assert "--val-size" in msg and "choose 0..59" in msg


@pytest.mark.parametrize("make", ["fifo", "folder"])
def test_a_fifo_or_folder_under_a_data_files_name_is_named_not_called_missing(mixed_sizes, make):
    """A FIFO was skipped as if absent, and the user told the file was "missing"."""
    path = mixed_sizes / "train-images-idx3-ubyte.gz"
    path.unlink()
    os.mkfifo(path) if make == "fifo" else path.mkdir()
    with pytest.raises((IsADirectoryError, ValueError)) as e:
        load_splits("mnist", root=mixed_sizes, val_size=10)
    assert str(e.value).startswith(f"{path}: is a ")


@pytest.mark.parametrize("value", ["4,8", "a,b,c", "0,8,8", "-4,8,8", "4,8,8,8", ""])
def test_caption_channels_flag_is_checked_by_argparse(tmp_path, monkeypatch, capsys, value):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        main(["caption", "train", f"--channels={value}"])  # "=": "-4,8,8" is not an option
    assert e.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.endswith(
        f"argument --channels: must be 3 whole numbers >= 1 separated by commas, like "
        f"32,64,64, got {value!r}"
    )
