"""Every program in examples/ runs as `python examples/NAME.py` and prints its key numbers."""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(name: str, *args: str, cwd=None) -> str:
    p = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )
    assert p.returncode == 0, f"{name} failed:\n{p.stderr}"
    return p.stdout


def squash(text: str) -> str:
    return " ".join(text.split())


def test_every_example_is_tested():
    tested = {
        "worked_examples.py",
        "staged_computation.py",
        "forward_network.py",
        "hot_and_cold.py",
        "numerical_vs_backprop.py",
        "draw_mlp_step.py",
        "nielsen_backprop.py",
        "optimizers.py",
        "process_group.py",
    }
    assert {p.name for p in EXAMPLES.glob("*.py")} == tested


def test_process_group_alone_and_under_mpirun():
    assert "rank 0 of 1: all_reduce gave 0" in run("process_group.py")
    if shutil.which("mpirun") is None:
        pytest.skip("mpirun is not installed (setup.sh installs Open MPI)")
    cmd = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-n", "2", sys.executable,
           str(EXAMPLES / "process_group.py")]  # fmt: skip
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "rank 0 of 2: all_reduce gave 1" in p.stdout
    assert "rank 1 of 2: all_reduce gave 1" in p.stdout


def test_worked_examples():
    out = squash(run("worked_examples.py"))
    assert "e = (a+b)(b+1) at a=2, b=1 value 6; d/da = 2, d/db = 5" in out
    assert "J = 3(a + bc) at a=5, b=3, c=2 value 33; d/da = 3, d/db = 6, d/dc = 9" in out
    assert "f = (x+y)z at x=-2, y=5, z=-4 value -12; d/dx = -4, d/dy = -4, d/dz = 3" in out
    assert "sigmoid neuron σ(w0 x0 + w1 x1 + w2) value 0.73" in out
    assert "df/dw = [-0.1966, -0.3932, 0.1966]" in out
    assert "df/dx = [0.3932, -0.5898]" in out
    assert "running sum at b: 2 + 3 = 5" in out  # the explain ledger of the first example


def test_staged_computation():
    out = run("staged_computation.py")
    assert "f = 1.545645" in out
    rows = {
        line.split()[0]: line.split()[1:] for line in out.splitlines() if line.startswith("df/d")
    }
    # chainrule, by hand (CS231n's staged backward) and numerical agree
    assert rows["df/dx"][:3] == ["2.059570"] * 3
    assert rows["df/dy"][:3] == ["1.592233"] * 3
    assert "gradients agree" in out


def test_forward_network():
    out = run("forward_network.py")
    first = out.split("XOR-like")[0]
    rows = re.findall(r"^\s+([01]) +([01]) +([\d.]+) +([\d.]+) +([\d.]+)$", first, re.M)
    assert [(r[0], r[1], r[4]) for r in rows] == [
        ("0", "0", "1.1000"),
        ("0", "1", "1.8301"),
        ("1", "0", "1.8301"),
        ("1", "1", "2.0933"),
    ]
    assert rows[0][2:4] == ("0.9526", "0.0474")  # σ(3), σ(-3)
    assert "a count of ones, not XOR" in out
    assert "high for exactly one input on: True" in out


def _rows(section: str) -> list[list[float]]:
    """The numeric rows of a table in hot_and_cold.py's output, as floats."""
    out = []
    for line in section.splitlines():
        if re.match(r"^\s+\d+\s", line):
            out.append([float(v.replace(",", "")) for v in line.split()])
    return out


def test_hot_and_cold_with_the_texts_settings():
    out = run("hot_and_cold.py")
    _, hot, descent, alpha = re.split(r"^\d\. ", out, flags=re.M)
    descent_1, descent_10 = descent.split("at input 10")
    # Hot and cold: 0.1 a step from 0.5 down to the goal -1 in 15 steps, then -1.1, -1, ...
    rows = _rows(hot)
    assert [r[0] for r in rows] == list(range(1, 21))
    want = [0.5 - 0.1 * k for k in range(16)] + [-1.1, -1.0, -1.1, -1.0]
    assert [r[1] for r in rows] == pytest.approx(want, abs=1e-12)
    assert [r[3] for r in rows] == pytest.approx([(w + 1) ** 2 for w in want], abs=1e-12)
    assert rows[0][3] == 2.25 and rows[-2:] == [[19, -1.1, -1.1, 0.01], [20, -1.0, -1.0, 0.0]]
    # Gradient descent at input 1: weight_delta 1.5 lands on -1 at once.
    assert _rows(descent_1)[:2] == [[1, 0.5, 0.5, 2.25, 1.5], [2, -1.0, -1.0, 0.0, 0.0]]
    # At input 10, goal -10: the distance to the answer -1 is multiplied by 1 - 10² = -99 each
    # step, so the error is (10 · 1.5 · 99^k)²: 225, 2,205,225, 21,613,410,225.
    errors = [r[3] for r in _rows(descent_10)]
    assert errors[:3] == [225.0, 2_205_225.0, 21_613_410_225.0]
    assert errors == [(15 * 99**k) ** 2 for k in range(4)]
    assert "225 -> 2,205,225" in out
    # alpha 0.1 at input 2, goal 0.8: the distance shrinks by 1 - 0.1 · 2² = 0.6 a step.
    rows = {int(r[0]): r for r in _rows(alpha)}
    assert sorted(rows) == [1, 2, 3, 10, 20, 30, 40, 50, 60, 70]
    for k, r in rows.items():
        distance = 0.1 * 0.6 ** (k - 1)
        assert r[1] == pytest.approx(0.4 + distance, rel=1e-5)
        assert r[3] == pytest.approx(0.04 * 0.36 ** (k - 1), rel=1e-4)
    assert "after 70 iterations weight 0.400000" in out


def test_nielsen_backprop_equations_beside_autograd():
    out = run("nielsen_backprop.py")
    # The example's network rebuilt here, its cost differentiated by central differences: by
    # BP3 each ∂C/∂b^l_j is δ^l_j, so the printed δ must match (to the 6 decimals printed).
    rng = np.random.default_rng(0)
    sizes = [3, 4, 2]
    ws = [rng.standard_normal((n, m)) for m, n in itertools.pairwise(sizes)]
    bs = [rng.standard_normal((n, 1)) for n in sizes[1:]]
    x, y = rng.standard_normal((3, 1)), np.array([[1.0], [0.0]])

    def cost(bs):
        a = x
        for w, b in zip(ws, bs):
            a = 1 / (1 + np.exp(-(w @ a + b)))
        return 0.5 * float(np.sum((a - y) ** 2))

    printed = {
        int(m.group(1)): [float(v) for v in m.group(2).split(", ")]
        for m in re.finditer(r"δ\^(\d) by BP[12] = \[([^\]]*)\]", out)
    }
    assert sorted(printed) == [2, 3]
    h = 1e-6
    for layer, delta in printed.items():
        l = layer - 2  # biases[0] is Nielsen's b^2
        numerical = []
        for j in range(len(delta)):
            up = [b.copy() for b in bs]
            down = [b.copy() for b in bs]
            up[l][j] += h
            down[l][j] -= h
            numerical.append((cost(up) - cost(down)) / (2 * h))
        assert delta == pytest.approx(numerical, abs=2e-6)
    worst = float(re.search(r"agree to (\S+) \(float64\)", out).group(1))
    assert worst < 1e-14  # the README's claim: by hand and autograd agree to about 1e-15
    assert out.count("max |difference|") == 4


def _descend(rule: str, lr: float, mu: float = 0.0, steps: int = 50) -> list[float]:
    """The update rules written out in NumPy (PyTorch's: momentum b = μb + g, b = g at the first
    step; Adagrad w -= lr g / (√Σg² + 1e-10)): the loss before each step and after the last."""
    h = np.array([1.0, 20.0])
    w, b, acc = np.array([-4.0, 1.0]), None, np.zeros(2)
    losses = []
    for _ in range(steps):
        losses.append(0.5 * float(h @ w**2))
        g = h * w
        if rule == "sgd":
            b = g if b is None or mu == 0 else mu * b + g
            w = w - lr * b
        else:
            acc = acc + g * g
            w = w - lr * g / (np.sqrt(acc) + 1e-10)
    return [*losses, 0.5 * float(h @ w**2)]


def test_optimizers_on_the_valley(tmp_path):
    plot = tmp_path / "optimizers.png"
    out = run("optimizers.py", "--out", str(plot))
    table = {}
    for line in out.splitlines():
        m = re.match(r"^\s+(\S.*?\S)\s{2,}((?:\s*[-\d.e+]+){6})\s+\(", line)
        if m:
            table[m.group(1)] = [float(v) for v in m.group(2).split()]
    want = {
        "SGD lr 0.09": _descend("sgd", 0.09),
        "momentum lr 0.09, μ 0.5": _descend("sgd", 0.09, 0.5),
        "momentum lr 0.09, μ 0.9": _descend("sgd", 0.09, 0.9),
        "Adagrad lr 1": _descend("adagrad", 1.0),
    }
    assert set(table) == set(want)
    for name, losses in want.items():
        assert table[name] == pytest.approx([losses[k] for k in (0, 1, 5, 10, 20, 50)], rel=1e-3)
    final = {name: losses[-1] for name, losses in table.items()}
    # The ordering the example states: momentum 0.5 < Adagrad < SGD < momentum 0.9 after 50 steps.
    assert sorted(final, key=final.get) == [
        "momentum lr 0.09, μ 0.5", "Adagrad lr 1", "SGD lr 0.09", "momentum lr 0.09, μ 0.9"
    ]  # fmt: skip
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_numerical_vs_backprop_counts_passes_and_multiply_adds(tmp_path):
    plot = tmp_path / "plot.png"
    out = run("numerical_vs_backprop.py", "--out", str(plot), "--widths", "4,8,16,32")
    rows = [
        [v.replace(",", "") for v in line.replace("|", " ").split()]
        for line in out.splitlines()
        if re.match(r"^\s+\d+\s+[\d,]+\s", line)
    ]
    N = 256
    for H, (h, n, num_passes, num_ma, bp_passes, bp_ma, *_rest, diff) in zip((4, 8, 16, 32), rows):
        params = H * H + H  # W1 (H×H) and W2 (H×1), no biases
        assert (int(h), int(n)) == (H, params)
        assert int(num_passes) == 2 * params and int(bp_passes) == 2
        assert int(num_ma) == 2 * params * N * params  # 2n passes of N·n multiply-adds
        # forward N·n; backward N·H² for W1, N·H for W2 and N·H back to the hidden layer
        assert int(bp_ma) == N * params + N * H * H + 2 * N * H
        assert float(diff) < 1e-6  # numerical and backprop gradients agree
    assert "multiply-adds grow as n^2.00 (numerical, 2N·n²) and n^0.99 (backprop" in out
    assert "timings, secondary" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"plot saved to {plot}" in out


def test_draw_mlp_step(tmp_path):
    from chainrule.viz import dot_binary

    pic = tmp_path / "step.png"
    out = run("draw_mlp_step.py", "--out", str(pic))
    assert "loss 1.0347; the graph has 12 nodes" in out
    assert "boxes: fc1, fc2" in out
    assert "fc2.bias.grad = [0.0997, -0.0901, -0.0096]" in out
    if dot_binary() is not None:
        assert f"picture saved to {pic}" in out
        assert pic.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert "apt-get install graphviz" in out and (tmp_path / "step.dot").exists()


@pytest.mark.parametrize("name", ["worked_examples.py", "hot_and_cold.py"])
def test_examples_run_from_anywhere(name, tmp_path):
    assert run(name, cwd=tmp_path)
