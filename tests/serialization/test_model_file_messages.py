"""Model files that do not fit their model: wrong-shaped and extra tensors, malformed metadata of
both kinds of model file (classifier and captioner), each one line through the CLI naming the
file, with exit code 2."""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_checks import one_line_error

import chainrule as cr
from chainrule.models.nielsen import Nielsen
from chainrule.training.classifier_state import save_model


@pytest.fixture
def classifier_file(tmp_path):
    path = tmp_path / "model.safetensors"
    meta = {"model": "nielsen", "data": "digits", "input_shape": [1, 8, 8], "num_classes": 10,
            "flatten": True}  # fmt: skip
    save_model(str(path), Nielsen([64, 30, 10]), meta, 1)
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
