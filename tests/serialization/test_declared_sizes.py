"""Model files whose metadata claims sizes the file does not hold (classifier and captioner)
are refused before anything that size is built; every refusal names the file, and each test
bounds the memory the refusal took (tracemalloc sees NumPy's allocations)."""

from __future__ import annotations

import pytest
from cli_checks import peak_memory

import chainrule as cr
from chainrule.captioning import load_captioner, save_captioner
from chainrule.cli.main import main
from chainrule.datasets.fashion_scenes import scene_vocabulary
from chainrule.models.captioner import Captioner, CaptionerConfig
from chainrule.models.nielsen import Nielsen
from chainrule.serialization import CheckpointError
from chainrule.training.classifier_state import load_model, save_model


def rewrite_metadata(path, **changes) -> None:
    """Saves the file again with metadata keys changed (the digest is recomputed: the attacker
    writes a file that is valid safetensors with a valid SHA-256, whose metadata lies)."""
    tensors, meta = cr.load(path, with_metadata=True)
    meta.update(changes)
    cr.save(tensors, path, meta)


@pytest.fixture
def nielsen_file(tmp_path):
    """The issue's 9.5 kB model file: Nielsen's [64, 30, 10] network trained on the 8x8 digits."""
    path = tmp_path / "model.safetensors"
    meta = {"model": "nielsen", "data": "digits", "input_shape": [1, 8, 8], "num_classes": 10,
            "flatten": True}  # fmt: skip
    save_model(str(path), Nielsen([64, 30, 10]), meta, 1)
    assert 9_000 < path.stat().st_size < 10_000
    return path


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"input_shape": [1, 100_000, 100_000]}, r"input_shape \[1, 100000, 100000\] calls for"),
        ({"input_shape": [1, 2**40, 2**40]}, "calls for at least"),
        ({"input_shape": [1, 300, 300]}, "calls for at least 90,000 weights"),
        ({"num_classes": 10**9}, "num_classes 1000000000 calls for"),
    ],
)
def test_metadata_claiming_huge_sizes_is_refused_before_building(nielsen_file, changes, says):
    rewrite_metadata(nielsen_file, **changes)
    with peak_memory() as p, pytest.raises(CheckpointError, match=says) as e:
        load_model(str(nielsen_file))
    assert str(nielsen_file) in str(e.value) and "\n" not in str(e.value)
    assert p.mb < 5, f"{p.mb:.1f} MB before the refusal"  # the issue measured 0.8 GB


def test_metadata_that_fits_the_bound_but_not_the_tensors_is_one_line(nielsen_file, capsys):
    """[1, 16, 8] passes the size bound; the shapes then differ: one line naming the file."""
    rewrite_metadata(nielsen_file, input_shape=[1, 16, 8])
    assert main(["eval", str(nielsen_file)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and str(nielsen_file) in err[0]
    assert "size mismatch for layers.0.weight" in err[0] and "(30, 64)" in err[0]


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("hidden_dim", 3000, r"'decoder.cell.weight_hh' has shape \(64, 16\).*\(12000, 3000\)"),
        ("embed_dim", 10**6, "'decoder.embedding.weight' has shape"),
        ("attention_dim", 5000, "'decoder.attention.encoder_att.weight' has shape"),
        ("channels", [4, 8, 100_000], "'encoder.cnn.7.weight' has shape"),
        ("image_size", 80_000, "'decoder.attention.encoder_att.weight' has shape"),
        ("vocab_size", 10**7, "'decoder.embedding.weight' has shape"),
    ],
)
def test_captioner_config_claiming_other_sizes_is_refused_before_building(
    captioner_file, key, value, says
):
    """The issue's hidden_dim 3000 cost 460 MB, growing with its square."""
    tensors, meta = cr.load(captioner_file, with_metadata=True)
    meta["config"][key] = value
    cr.save(tensors, captioner_file, meta)
    with peak_memory() as p, pytest.raises(CheckpointError, match=says) as e:
        load_captioner(str(captioner_file))
    assert str(captioner_file) in str(e.value)
    assert p.mb < 5, f"{p.mb:.1f} MB before the refusal"


def test_no_attention_captioner_checks_the_image_size_too(tmp_path):
    vocab = scene_vocabulary()
    model = Captioner(vocab_size=len(vocab), attention=False, channels=(4, 8, 8), embed_dim=8,
                      hidden_dim=16, dropout=0.0)  # fmt: skip
    path = tmp_path / "st.safetensors"
    save_captioner(str(path), model, vocab)
    tensors, meta = cr.load(path, with_metadata=True)
    meta["config"]["image_size"] = 4096
    cr.save(tensors, path, meta)
    with pytest.raises(CheckpointError, match=r"'decoder.image_fc.weight' has shape \(16, 1536\)"):
        load_captioner(str(path))


@pytest.mark.parametrize("attention", [True, False])
@pytest.mark.parametrize("sizes", [(4, 8, 8, 8, 16, 8, 64), (16, 32, 64, 64, 256, 128, 32)])
def test_key_shapes_are_the_models_own(attention, sizes):
    """The oracle for CaptionerConfig.key_shapes: the shapes of a model actually built."""
    c1, c2, c3, e, h, a, s = sizes
    config = CaptionerConfig(vocab_size=46, attention=attention, channels=(c1, c2, c3),
                             image_size=s, embed_dim=e, hidden_dim=h, attention_dim=a)  # fmt: skip
    built = {k: tuple(v.shape) for k, v in Captioner(config).state_dict().items()}
    for name, shape in config.key_shapes().items():
        assert built[name] == shape, name
