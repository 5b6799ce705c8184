"""The benchmarks' own helpers, on small sizes (the benchmarks themselves run outside the tests)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule.models.captioner import Captioner, CaptionerConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import bench_captioner


def test_encoder_gemm_floor_times_each_convolution_on_its_own_shapes():
    cr.manual_seed(0)
    model = Captioner(CaptionerConfig(vocab_size=10, channels=(4, 8, 8), image_size=32))
    images = np.random.default_rng(0).random((2, 1, 32, 32), dtype=np.float32)
    rows = bench_captioner.encoder_gemm_floor(model, images, repeats=1)
    assert [what for what, _ in rows] == [
        "conv1, 1->4 channels, 4x4 stride 2 on 32x32",
        "conv2, 4->8 channels, 3x3 stride 1 on 16x16",
        "conv3, 8->8 channels, 3x3 stride 1 on 8x8",
    ]
    assert all(ms > 0 for _, ms in rows)
    # The spies are gone: the convolutions run their own forward again.
    assert all("forward" not in vars(m) for m in model.encoder.modules())


ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_benchmarks_page_is_what_make_readme_writes():
    import make_readme

    page = (ROOT / "benchmarks" / "README.md").read_text()
    assert page == make_readme.render(), "run .venv/bin/python benchmarks/make_readme.py"


def test_the_benchmarks_page_shows_the_latest_runs_figures(tmp_path):
    import make_readme

    latest = sorted((ROOT / "benchmarks" / "results").glob("suite-*.json"))[-1]
    run = json.loads(latest.read_text())
    run["started_utc"] = "2099-01-01T00:00:00+00:00"
    run["machine"]["blas_kernels"] = ["openblas Haswell"]
    mlp = run["workloads"]["mlp"]
    mlp["variants"]["cr_compiled"]["median_s"] = 0.123456
    mlp["ratios"]["compiled_over_torch"] = 0.0654
    (tmp_path / "suite-20990101T000000Z.json").write_text(json.dumps(run))
    page = make_readme.render(tmp_path)
    row = next(line for line in page.splitlines() if line.startswith("| `mlp` |"))
    assert row.split(" | ")[2] == "123" and row.split(" | ")[6] == "0.07"
    assert "- BLAS kernels: openblas Haswell" in page
    assert "suite-20990101T000000Z.json" in page


def test_the_per_op_benchmark_drives_every_op_of_the_table(tmp_path):
    """bench_per_op.py --quick (tiny sizes): every op of tests/op_table.py and every layer case
    runs in both frameworks with agreeing results, none is left out, and the page renders the
    results file it writes."""
    import shutil

    import bench_per_op
    import make_readme
    import op_table

    out = tmp_path / "per-op-20990101T000000Z.json"
    doc = bench_per_op.main(
        ["--quick", "--threads", "0", "--json", str(out)]
    )  # threads as they are
    assert doc["not_driven"] == []
    timed = {r["name"] for r in doc["ops"]}
    assert {op.name for op in op_table.ALL} <= timed
    assert {"conv2d 3x3 pad 1", "LSTMCell", "cross_entropy", "embedding"} <= timed
    assert all(r["agrees"] for r in doc["ops"]), [r["name"] for r in doc["ops"] if not r["agrees"]]
    assert all(r["cr_ms"] > 0 and r["torch_ms"] > 0 for r in doc["ops"])
    shutil.copy(sorted((ROOT / "benchmarks" / "results").glob("suite-*.json"))[-1], tmp_path)
    page = make_readme.render(tmp_path)
    assert f"{len(doc['ops'])} ops" in page
    assert "| `gelu` | table |" in page
