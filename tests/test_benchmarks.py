"""The benchmarks' own helpers, on small sizes (the benchmarks themselves run outside the tests)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule.models.captioner import Captioner, CaptionerConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

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


ROOT = Path(__file__).resolve().parents[1]


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
