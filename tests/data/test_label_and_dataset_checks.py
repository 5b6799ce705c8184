"""Issue 15, item 4: inputs that used to be accepted without a word. Labels outside the ten
classes, one data set's files under the other's name, training states whose metadata lies, and
integer weights (cast on load, as PyTorch casts, and documented so)."""

from __future__ import annotations

import os

import numpy as np
import pytest

import chainrule as cr
from chainrule.captioning import CaptionTrainConfig, train_captioner
from chainrule.cli.main import main
from chainrule.datasets import DatasetFormatError, DatasetNotFoundError, write_idx
from chainrule.datasets import mnist as mnist_module
from chainrule.datasets.mnist import (
    FASHION_MNIST_LABELS_SHA256,
    MNIST_CLASS_COUNTS,
    load_fashion_mnist,
    load_mnist,
    read_idx_pair,
)
from chainrule.models.nielsen import Nielsen
from chainrule.serialization import CheckpointError
from chainrule.training.classifier_state import load_model, save_model
from chainrule.training.trainer import TrainConfig, train

FILES = {
    True: ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    False: ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def write_pair(directory, labels: np.ndarray, train: bool = False) -> None:
    """An MNIST-format split holding ``labels`` and blank 28x28 images."""
    os.makedirs(directory, exist_ok=True)
    images, labels_name = FILES[train]
    write_idx(os.path.join(directory, images), np.zeros((len(labels), 28, 28), np.uint8))
    write_idx(os.path.join(directory, labels_name), labels.astype(np.uint8))


def one_line_error(capsys, argv, code: int = 2) -> str:
    assert main(argv) == code
    out = capsys.readouterr()
    err = out.err.strip().splitlines()
    assert len(err) == 2 and err[1].startswith("  (set CHAINRULE_DEBUG=1"), out.err
    assert "Traceback" not in out.out + out.err
    return err[0]


@pytest.fixture
def no_system_data(monkeypatch, tmp_path):
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    monkeypatch.setattr(mnist_module, "MNIST_SYSTEM_DIRS", [str(tmp_path / "sys-mnist")])
    monkeypatch.setattr(mnist_module, "FASHION_MNIST_SYSTEM_DIRS", [str(tmp_path / "sys-fashion")])


# ----- labels out of range -----
@pytest.mark.parametrize("bad", [10, 200, 255])
def test_a_label_outside_the_ten_classes_is_refused_naming_the_file(tmp_path, bad):
    """The issue's label 200 built a 201-class model; now the labels file is named."""
    labels = np.arange(20) % 10
    labels[[3, 17]] = bad
    write_pair(tmp_path, labels)
    images, labels_path = (str(tmp_path / f) for f in FILES[False])
    with pytest.raises(DatasetFormatError) as e:
        read_idx_pair(images, labels_path)
    msg = str(e.value)
    assert msg.startswith(f"{labels_path}: label {bad} (example 3, and 1 more) lies outside 0..9")
    assert "\n" not in msg


def test_labels_inside_the_range_are_read_as_int64(tmp_path):
    write_pair(tmp_path, np.array([0, 9, 5]))
    _, labels = read_idx_pair(*(str(tmp_path / f) for f in FILES[False]))
    assert labels.dtype == np.int64 and labels.tolist() == [0, 9, 5]


def test_cli_train_on_out_of_range_labels_is_one_line(tmp_path, no_system_data, capsys):
    labels = np.arange(30) % 10
    labels[0] = 200
    for train_split in (True, False):
        write_pair(tmp_path / "data", labels, train_split)
    argv = ["train", "mlp", "--data", "mnist", "--root", str(tmp_path / "data"), "--epochs",
            "1", "--out", str(tmp_path / "out")]  # fmt: skip
    msg = one_line_error(capsys, argv)
    assert "train-labels-idx1-ubyte.gz: label 200" in msg
    assert not (tmp_path / "out" / "model.safetensors").exists()


# ----- one data set under the other's name -----
def mnist_like_labels(train: bool) -> np.ndarray:
    """Labels with MNIST's class counts, in a shuffled order (not MNIST's own order)."""
    counts = MNIST_CLASS_COUNTS[train]
    labels = np.repeat(np.arange(10), counts)
    return np.random.default_rng(0).permutation(labels)


def test_mnist_class_counts_are_mnists():
    """The constants against the published figures: 60,000 / 10,000 examples, digit 1 the most."""
    assert sum(MNIST_CLASS_COUNTS[True]) == 60_000 and sum(MNIST_CLASS_COUNTS[False]) == 10_000
    assert max(range(10), key=MNIST_CLASS_COUNTS[True].__getitem__) == 1
    assert MNIST_CLASS_COUNTS[False][1] == 1135


def test_fashion_mnist_with_mnists_labels_is_refused(tmp_path, no_system_data):
    """`--data fashion-mnist` with CHAINRULE_DATA holding MNIST trained on MNIST and reported
    Fashion-MNIST; MNIST's class counts give it away."""
    write_pair(tmp_path, mnist_like_labels(False))
    with pytest.raises(DatasetFormatError) as e:
        load_fashion_mnist(train=False, root=tmp_path)
    msg = str(e.value)
    assert msg.startswith(str(tmp_path / FILES[False][1]))
    assert "MNIST's labels, not Fashion-MNIST's" in msg and "--data mnist" in msg


def test_a_balanced_file_that_is_not_fashion_mnist_still_loads_as_either(tmp_path, no_system_data):
    """Only what is known is refused: a test fixture's balanced labels are neither digest."""
    write_pair(tmp_path, np.arange(100) % 10)
    assert len(load_fashion_mnist(train=False, root=tmp_path)[1]) == 100
    assert len(load_mnist(train=False, root=tmp_path)[1]) == 100


def _fashion_installed() -> bool:
    try:
        mnist_module.find_fashion_mnist(False)
    except DatasetNotFoundError:
        return False
    return True


@pytest.mark.skipif(not _fashion_installed(), reason="Fashion-MNIST not installed")
@pytest.mark.parametrize("train", [True, False])
def test_the_fashion_digests_are_the_installed_files(train):
    import hashlib

    _, labels = load_fashion_mnist(train=train)
    digest = hashlib.sha256(labels.astype(np.uint8).tobytes()).hexdigest()
    assert digest == FASHION_MNIST_LABELS_SHA256[train]


@pytest.mark.skipif(not _fashion_installed(), reason="Fashion-MNIST not installed")
def test_mnist_pointing_at_fashion_mnist_is_refused(tmp_path, monkeypatch):
    """The other way round: the real Fashion-MNIST files where MNIST is looked for."""
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    root = os.path.dirname(mnist_module.find_fashion_mnist(False)[0])
    with pytest.raises(DatasetFormatError, match="Fashion-MNIST's labels, not MNIST's"):
        load_mnist(train=False, root=root)


# ----- training states whose metadata lies -----
CLASSIFIER = dict(model="mlp", data="digits", batch_size=64, epochs=1, limit=128, seed=0)


@pytest.fixture(scope="module")
def classifier_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    train(TrainConfig(**CLASSIFIER, out=str(out)), log=lambda s: None)
    return out


def tamper(path, **changes) -> None:
    """Rewrites the metadata (with a fresh digest: the file is valid, its metadata lies)."""
    tensors, meta = cr.load(path, with_metadata=True)
    meta.update(changes)
    cr.save(tensors, path, meta)


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"epoch": -1}, "'epoch' must be a whole number >= 1"),
        ({"epoch": 0}, "'epoch' must be a whole number >= 1"),
        ({"epoch": "1"}, "'epoch' must be a whole number >= 1"),
        ({"epoch": True}, "'epoch' must be a whole number >= 1"),
        ({"epoch": 5}, "'history' must be 5 rows"),
        ({"history": "none"}, "'history' must be a list"),
        ({"config": []}, "'config' must be a dict"),
        ({"loader": None}, "'loader' must be a dict"),
        ({"rng": 3}, "'rng' must be a random generator state"),
    ],
)
def test_cli_resume_from_a_tampered_state_is_one_line_naming_it(
    classifier_run, tmp_path, capsys, changes, says
):
    out = tmp_path / "out"
    out.mkdir()
    state = out / "checkpoint.safetensors"
    state.write_bytes((classifier_run / "checkpoint.safetensors").read_bytes())
    tamper(state, **changes)
    argv = ["train", "mlp", "--data", "digits", "--batch-size", "64", "--epochs", "2",
            "--limit", "128", "--out", str(out), "--resume"]  # fmt: skip
    msg = one_line_error(capsys, argv)
    assert msg.startswith(f"chainrule train: error: {state}: malformed metadata: ")
    assert says in msg
    assert not (out / "model.safetensors").exists()  # nothing reported that was not written


def test_a_model_file_whose_epoch_is_negative_is_refused(classifier_run, tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes((classifier_run / "model.safetensors").read_bytes())
    tamper(path, epoch=-3)
    with pytest.raises(CheckpointError, match=r"model\.safetensors: malformed metadata: 'epoch'"):
        load_model(str(path))


TINY = dict(channels=(4, 8, 8), embed_dim=8, hidden_dim=16, attention_dim=8, train_size=16,
            val_size=8, batch_size=16, epochs=1, schedule="constant")  # fmt: skip


@pytest.fixture(scope="module")
def captioner_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("caption")
    train_captioner(CaptionTrainConfig(**TINY, out=str(out)), log=lambda s: None, progress=False)
    return out


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"position": {"epoch": -1, "step": 0}}, "'position' must be"),
        ({"position": {"epoch": 1}}, "'position' must be"),
        ({"position": {"epoch": 1, "step": 1.5}}, "'position' must be"),
        ({"history": {"a": 1}}, "'history' must be a list"),
        ({"train_config": "x"}, "'train_config' must be a dict"),
        ({"optimizer": 1}, "'optimizer' must be a dict"),
    ],
)
def test_caption_resume_from_a_tampered_state_is_one_line(
    captioner_run, tmp_path, capsys, changes, says
):
    out = tmp_path / "out"
    out.mkdir()
    state = out / "checkpoint.safetensors"
    state.write_bytes((captioner_run / "checkpoint.safetensors").read_bytes())
    tamper(state, **changes)
    argv = ["caption", "train", "--channels", "4,8,8", "--embed-dim", "8", "--hidden-dim", "16",
            "--attention-dim", "8", "--train-size", "16", "--val-size", "8", "--batch-size",
            "16", "--epochs", "2", "--schedule", "constant", "--out", str(out), "--resume"]  # fmt: skip
    msg = one_line_error(capsys, argv)
    assert f"{state}: malformed metadata: " in msg and says in msg


# ----- integer weights: cast on load, as PyTorch does -----
def test_integer_weights_are_cast_to_the_parameters_dtype_as_in_pytorch(tmp_path):
    """PyTorch's load_state_dict copies an int tensor into a float parameter (``copy_`` casts);
    chainrule keeps that on purpose so weights travel between the two (see ``load_weights``)."""
    torch = pytest.importorskip("torch")
    path = tmp_path / "model.safetensors"
    save_model(str(path), Nielsen([64, 30, 10]), {"model": "nielsen", "data": "digits",
               "input_shape": [1, 8, 8], "num_classes": 10, "flatten": True}, 1)  # fmt: skip
    tensors, meta = cr.load(path, with_metadata=True)
    ints = {
        k: np.arange(v.numel(), dtype=np.int32).reshape(v.shape) % 7 for k, v in tensors.items()
    }
    cr.save(ints, path, meta)
    model, _, _ = load_model(str(path))
    # The same file into PyTorch float32 parameters of the same names and shapes.
    reference = torch.nn.Module()
    for k, v in ints.items():
        reference.register_parameter(k.replace(".", "_"), torch.nn.Parameter(torch.zeros(v.shape)))
    reference.load_state_dict({k.replace(".", "_"): torch.from_numpy(v) for k, v in ints.items()})
    for name, value in model.state_dict().items():
        theirs = getattr(reference, name.replace(".", "_"))
        assert value.dtype == np.float32 and theirs.dtype == torch.float32
        np.testing.assert_array_equal(value.numpy(), ints[name])
        np.testing.assert_array_equal(theirs.detach().numpy(), value.numpy())
