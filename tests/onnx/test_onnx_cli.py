"""`chainrule export`: a model trained by the CLI, exported, gives the same logits in
onnxruntime as in chainrule, at a batch size other than the export's."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli.main import main

ort = pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_a_trained_model_exports_and_runs_in_onnxruntime(tmp_path, capsys, model):
    out = tmp_path / "run"
    assert main(["train", model, "--data", "digits", "--epochs", "1", "--out", str(out)]) == 0
    onnx_path = tmp_path / "model.onnx"
    assert main(["export", str(out / "model.safetensors"), str(onnx_path)]) == 0
    assert "wrote" in capsys.readouterr().out.splitlines()[-1]

    from chainrule.datasets import load_splits
    from chainrule.training.classifier_state import load_model

    net, _, meta = load_model(str(out / "model.safetensors"))
    x, _ = load_splits("digits").test
    x = x[:37].astype(np.float32)
    if meta.get("flatten"):
        x = x.reshape(len(x), -1)
    net.eval()
    with cr.no_grad():
        want = net(cr.tensor(x)).numpy()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"input": x})
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert (got.argmax(1) == want.argmax(1)).all()


def test_export_of_a_missing_checkpoint_is_one_clear_line(tmp_path):
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-m", "chainrule.cli.main", "export", str(tmp_path / "nope.safetensors"),
         str(tmp_path / "m.onnx")], capture_output=True, text=True,
    )  # fmt: skip
    assert r.returncode == 2 and "Traceback" not in r.stderr and "nope.safetensors" in r.stderr
    assert not (tmp_path / "m.onnx").exists()
