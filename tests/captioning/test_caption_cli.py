"""``chainrule caption train | eval | describe`` end to end on a tiny run, and its errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from chainrule.cli.main import main

TINY = ["--channels", "4,8,8", "--embed-dim", "8", "--hidden-dim", "16", "--attention-dim", "8"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A captioner trained for one epoch on 32 scenes, and a test scene exported as PNG."""
    from chainrule.datasets import FashionScenes
    from chainrule.datasets.coco import export_coco

    root = tmp_path_factory.mktemp("caption")
    out = root / "run"
    rc = main(["caption", "train", "--train-size", "32", "--val-size", "8", "--epochs", "1",
               "--batch-size", "16", "--out", str(out), "--json", *TINY])  # fmt: skip
    assert rc == 0
    image_dir, _ = export_coco(FashionScenes("test", size=2), root / "coco", "test")
    return out, sorted(image_dir.glob("*.png"))


def test_train_writes_checkpoints_metrics_and_curves(trained, capsys):
    out, _ = trained
    for name in ("model.safetensors", "checkpoint.safetensors", "metrics.jsonl", "curves.png"):
        assert (out / name).stat().st_size > 0, name
    row = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
    assert row["epoch"] == 1 and row["steps"] == 2 and 0 <= row["val_exact_match"] <= 1


def test_train_without_a_validation_split(tmp_path, recwarn):
    # --val-size 0: no validation figures, and no warning from the curves' empty panel.
    out = tmp_path / "run"
    rc = main(["caption", "train", "--train-size", "16", "--val-size", "0", "--epochs", "1",
               "--batch-size", "16", "--out", str(out), *TINY])  # fmt: skip
    assert rc == 0
    row = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
    assert row["epoch"] == 1 and row.get("val_exact_match") is None
    assert (out / "curves.png").stat().st_size > 0
    assert not [w for w in recwarn if "legend" in str(w.message)]


def test_eval_prints_every_metric(trained, capsys):
    out, _ = trained
    rc = main(["caption", "eval", str(out / "model.safetensors"), "--size", "10", "--beam", "2",
               "--no-meteor", "--json"])  # fmt: skip
    assert rc == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ("BLEU-1", "BLEU-4", "ROUGE-L", "CIDEr-D", "exact_match", "exact_match_k1"):
        assert key in result and np.isfinite(result[key]), key
    assert result["scenes"] == 10 and result["beam"] == 2 and result["split"] == "test"


def test_describe_writes_a_caption_and_an_attention_map(trained, capsys, tmp_path):
    out, pngs = trained
    amap = tmp_path / "map.png"
    rc = main(["caption", "describe", str(out / "model.safetensors"), str(pngs[0]),
               "--beam", "3", "--attention-map", str(amap)])  # fmt: skip
    assert rc == 0
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert len(lines) == 1 and lines[0].strip()
    assert amap.stat().st_size > 0
    from PIL import Image

    assert Image.open(amap).size[0] > 200
    # two images: one line each, one map each
    rc = main(["caption", "describe", str(out / "model.safetensors"), *map(str, pngs),
               "--json", "--attention-map", str(tmp_path / "m.png")])  # fmt: skip
    assert rc == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.strip().splitlines()]
    assert [r["image"] for r in rows] == [str(p) for p in pngs]
    assert (tmp_path / "m-1.png").exists() and (tmp_path / "m-2.png").exists()


def test_describe_converts_colour_and_says_so(trained, capsys, tmp_path):
    from PIL import Image

    out, _ = trained
    Image.fromarray(np.zeros((32, 48, 3), np.uint8), "RGB").save(tmp_path / "rgb.png")
    assert main(["caption", "describe", str(out / "model.safetensors"),
                 str(tmp_path / "rgb.png")]) == 0  # fmt: skip
    err = capsys.readouterr().err
    assert "rgb.png: converted from colour (RGB) to grayscale" in err
    assert "rgb.png: resized from 48x32 to 64x64" in err


def one_line_error(capsys, argv) -> str:
    rc = main(argv)
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and err[1].startswith("  (set CHAINRULE_DEBUG=1")
    return err[0]


def test_bad_inputs_get_one_line_errors_naming_the_file(trained, capsys, tmp_path):
    out, pngs = trained
    model = str(out / "model.safetensors")
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    msg = one_line_error(capsys, ["caption", "describe", model, str(bad)])
    assert "broken.png: cannot read the image" in msg

    from chainrule.models.mlp import MLP
    from chainrule.training.classifier_state import save_model

    clf = tmp_path / "model.safetensors"
    save_model(str(clf), MLP([4, 2]), {"model": "mlp", "data": "digits"}, 1)
    msg = one_line_error(capsys, ["caption", "describe", str(clf), str(pngs[0])])
    assert str(clf) in msg and "not a captioner" in msg and "classifier" in msg
    msg = one_line_error(capsys, ["caption", "eval", str(clf), "--size", "2"])
    assert str(clf) in msg and "not a captioner" in msg

    # a captioner whose vocabulary is not Fashion Scenes'
    import chainrule as cr

    tensors, meta = cr.load(model, with_metadata=True)
    meta["vocab"] = [*meta["vocab"][:4], *sorted(meta["vocab"][4:], reverse=True)]
    other = tmp_path / "other.safetensors"
    cr.save(tensors, str(other), meta)
    msg = one_line_error(capsys, ["caption", "eval", str(other), "--size", "2"])
    assert "other.safetensors: vocabulary mismatch: token 4 is" in msg

    msg = one_line_error(capsys, ["caption", "describe", model, str(tmp_path / "absent.png")])
    assert "absent.png: no such image file" in msg
