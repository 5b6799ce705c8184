"""Writes benchmarks/README.md from the suite's results, benchmarks/results/suite-*.json.

The page holds no figure typed by hand: every number on it is read from a JSON file that
``benchmarks/suite.py`` wrote, so the page changes only when a new run is committed.

    .venv/bin/python benchmarks/make_readme.py           # rewrite benchmarks/README.md
    .venv/bin/python benchmarks/make_readme.py --check   # exit 1 if the page is out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# Run as a script, this folder is on sys.path; the tests put it there.
from suite_report import fmt_ms, fmt_ratio  # the suite's own formatting of times and ratios

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
PAGE = HERE / "README.md"

VARIANTS = (
    ("cr_eager", "chainrule eager"),
    ("cr_compiled", "chainrule compiled"),
    ("torch_eager", "PyTorch eager"),
    ("torch_compile", "torch.compile"),
)

# The benchmarks that print their figures instead of writing JSON: listed with their commands,
# so that the page says how to measure them, but with no numbers.
OTHER_SCRIPTS = (
    ("bench_ops.py", "", "per-op overhead of a 1,000-op chain (the suite's `ops` workload)"),
    ("bench_training.py", "--compile", "`nielsen` and `mlp` seconds per epoch, eager and compiled"),
    ("bench_conv.py", "", "the `cnn` step: time, memory, profile"),
    ("bench_rnn.py", "--threads 1", "LSTMCell and attention loop against `nn.LSTM`"),
    ("bench_captioner.py", "--floor", "one captioner step, split into encoder and the rest"),
    ("bench_distributed.py", "", "`mlp` throughput on 1 and 2 MPI processes"),
)


def load_runs(results: Path = RESULTS) -> list[dict]:
    """Every suite run in ``results``, oldest first, each with its file name under ``"file"``."""
    runs = []
    for path in sorted(results.glob("suite-*.json")):
        run = json.loads(path.read_text())
        run["file"] = path.name
        runs.append(run)
    if not runs:
        raise SystemExit(f"make_readme: no suite-*.json in {results}; run benchmarks/suite.py")
    return sorted(runs, key=lambda r: (r["started_utc"], r["file"]))


def machine_lines(run: dict) -> list[str]:
    """The machine of one run, as the suite recorded it."""
    m, s = run["machine"], run["settings"]
    load = ", ".join(f"{x:.2f}" for x in m["load_average_at_start"])
    lines = [
        f"- CPU: {m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable); {m['platform']}",
        f"- Python {m['python']}, NumPy {m['numpy']} with BLAS {m['blas']}"
        f" (BLAS threads {m['blas_threads']})",
        f"- PyTorch {m.get('torch', 'not installed')} (threads: {m.get('torch_threads', '?')})",
        f"- threads per framework: {s.get('threads')}; warm-up steps: {s.get('warmup')};"
        f" about {s.get('target_s_per_variant')} s timed per variant",
        f"- load average at start: {load}",
    ]
    if m.get("blas_kernels"):  # runs before suite.py recorded the kernels lack it
        lines.insert(2, f"- BLAS kernels: {', '.join(m['blas_kernels'])}")
    return lines


def workload_label(w: dict) -> str:
    return f"`{w['name']}`"


def step_table(run: dict) -> list[str]:
    """Median ms per step of each variant, the ratios to PyTorch eager and the memory ratio."""
    head = [
        "workload",
        *(label for _, label in VARIANTS),
        "eager / PyTorch",
        "compiled / PyTorch",
        "compiled / torch.compile",
        "memory, compiled / PyTorch",
    ]
    rows = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for w in run["workloads"].values():
        if w.get("error"):
            rows.append(f"| {workload_label(w)} | failed: {w['error']} |" + " |" * (len(head) - 2))
            continue
        v, r = w["variants"], w["ratios"]
        cells = [
            workload_label(w),
            *(fmt_ms(v.get(key)) for key, _ in VARIANTS),
            fmt_ratio(r.get("eager_over_torch")),
            fmt_ratio(r.get("compiled_over_torch")),
            fmt_ratio(r.get("compiled_over_torch_compile")),
            fmt_ratio(r.get("memory_run_compiled_over_torch")),
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def workload_notes(run: dict) -> list[str]:
    """What each workload is, the checks it passed before timing, and the by-hand floor."""
    lines = []
    for w in run["workloads"].values():
        if w.get("error"):
            continue
        checks = []
        t = w.get("check_torch") or {}
        if "first_step_rel_diff" in t:
            checks.append(
                f"first-step loss {'agrees' if t.get('ok') else 'DISAGREES'} with PyTorch's"
                f" (relative difference {t['first_step_rel_diff']:.1e})"
            )
        c = w.get("check_compiled") or {}
        if c:
            same = c.get("losses_bitwise_equal") and c.get("params_bitwise_equal")
            checks.append(
                f"compiled {'equals' if same else 'DIFFERS FROM'} eager bit for bit over"
                f" {c.get('steps')} steps"
            )
        line = f"- {workload_label(w)}: {w['description']}."
        if checks:
            line += " Checked: " + "; ".join(checks) + "."
        by_hand = w["variants"].get("numpy_by_hand")
        if by_hand:
            r = w["ratios"]
            line += (
                f" The same step written by hand in NumPy: {fmt_ms(by_hand)} ms,"
                f" {fmt_ratio(r.get('by_hand_over_torch'))} of PyTorch eager; chainrule compiled"
                f" is {fmt_ratio(r.get('compiled_over_by_hand'))}× that."
            )
        floor = w["variants"].get("gemm_floor")
        if floor:
            r = w["ratios"]
            line += (
                f" Its GEMMs alone (the same shapes in NumPy, the GEMM floor): {fmt_ms(floor)} ms,"
                f" {fmt_ratio(r.get('gemm_floor_over_torch'))} of PyTorch eager; chainrule eager"
                f" is {fmt_ratio(r.get('eager_over_gemm_floor'))}× that, compiled"
                f" {fmt_ratio(r.get('compiled_over_gemm_floor'))}×."
            )
        lines.append(line)
    return lines


def runs_table(runs: list[dict]) -> list[str]:
    """compiled / PyTorch eager of every workload in every committed run: the spread of a ratio."""
    names = list(dict.fromkeys(n for run in runs for n in run["workloads"]))
    head = ["run (file)", "commit", *(f"`{n}`" for n in names)]
    rows = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for run in runs:
        commit = run.get("git_commit", "?") + (" (dirty)" if run.get("chainrule_dirty") else "")
        cells = [f"`{run['file']}`", f"`{commit}`"]
        for n in names:
            w = run["workloads"].get(n)
            ok = w and not w.get("error")
            cells.append(fmt_ratio(w["ratios"].get("compiled_over_torch")) if ok else "n/a")
        rows.append("| " + " | ".join(cells) + " |")
    return rows


PER_OP_COMMAND = ".venv/bin/python benchmarks/bench_per_op.py"


def per_op_section(results: Path = RESULTS) -> list[str]:
    """The latest per-op run (``per-op-*.json`` of bench_per_op.py): every op, worst first."""
    files = sorted(results.glob("per-op-*.json"))
    head = [
        "## Every op against PyTorch",
        "",
        "`benchmarks/bench_per_op.py` times forward + backward of every op of `tests/op_table.py`",
        "(the ops the float64 gradchecks cover) on about 10^6 float32 values, and the layer ops",
        "at typical shapes, in chainrule and PyTorch on the same inputs, one thread each, alternating",
        "in one process. The ratio is the median of the ratios of adjacent pairs; the goal is no",
        "op above 2.",
        "",
        "The view ops of a leaf (`flatten`, `reshape`, `unsqueeze`, `getitem_newaxis`) are over it by",
        "one copy, on purpose: their backward hands the leaf a view of the gradient passed to",
        "`backward()`, and chainrule stores a copy as `.grad`, so that `.grad` never shares memory",
        "with the caller's tensor or another leaf's `.grad`. PyTorch stores the view itself: after",
        "`a.view(2, 3) + b.view(2, 3)` is given `g`, torch's `a.grad`, `b.grad` and `g` are one",
        "buffer, and a second backward adds into it twice (torch 2.13: 3 where 2 is right). The",
        "copy costs about 0.15 ms per 10^6 values; a view inside a network costs nothing of the",
        "kind (its input is an activation, not a leaf).",
        "",
        "```bash",
        f"{PER_OP_COMMAND:<46}# writes benchmarks/results/per-op-<UTC time>.json",
        "```",
        "",
    ]
    if not files:
        return [*head, "No per-op run is committed yet.", ""]
    run = json.loads(files[-1].read_text())
    rows = sorted(run["ops"], key=lambda r: -r["ratio"])
    over = [r for r in rows if r["ratio"] > run["settings"]["goal_ratio"]]
    out = [
        *head,
        f"Latest run: `benchmarks/results/{files[-1].name}`, started {run['started_utc']},"
        f" commit `{run.get('git_commit', '?')}`{' (dirty)' if run.get('chainrule_dirty') else ''};"
        f" {len(rows)} ops, {len(over)} above {run['settings']['goal_ratio']:g}x PyTorch.",
        "",
        "| op | kind | chainrule ms | PyTorch ms | chainrule / PyTorch |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        note = "" if r.get("agrees", True) else " (results differ)"
        out.append(
            f"| `{r['name']}`{note} | {r['kind']} | {r['cr_ms']:.3g} | {r['torch_ms']:.3g} |"
            f" {fmt_ratio(r['ratio'])} |"
        )
    for f in run.get("not_driven", []):
        out.append(f"| `{f['name']}` | {f['kind']} | not driven: {f['error']} | | |")
    return [*out, ""]


def render(results: Path = RESULTS) -> str:
    """The whole page, from the JSON files in ``results``."""
    runs = load_runs(results)
    latest = runs[-1]
    out = [
        "# Benchmarks",
        "",
        "<!-- Written by benchmarks/make_readme.py from benchmarks/results/*.json; do not edit."
        " -->",
        "",
        "Every benchmark runs chainrule and PyTorch (CPU) on the same workload in one process and",
        "prints the ratio. This page is generated from the suite's JSON results:",
        "",
        "```bash",
        f"{latest['command']:<46}# writes benchmarks/results/suite-<UTC time>.json",
        f"{'.venv/bin/python benchmarks/make_readme.py':<46}# this page, from those files",
        "```",
        "",
        "## The suite",
        "",
        "`benchmarks/suite.py` runs each workload's training step four ways in one run: chainrule",
        "eager, chainrule under `cr.compile`, PyTorch eager and `torch.compile`, all from the same",
        "weights. Times are the median ms per step; ratios are of medians (below 1: chainrule is",
        "faster). Memory is the peak RSS of warm-up and timed steps above the RSS after setup, each",
        "variant in a fresh process, chainrule compiled over PyTorch eager (`<1MiB`: both below 1 MiB).",
        "Benchmark on a quiet machine: on shared cores, waiting BLAS and PyTorch threads spin and",
        "move every timing.",
        "",
        f"Latest run: `benchmarks/results/{latest['file']}`, started {latest['started_utc']},"
        f" commit `{latest.get('git_commit', '?')}`.",
        "",
        *machine_lines(latest),
        "",
        *step_table(latest),
        "",
        *workload_notes(latest),
        "",
        "## Every committed run",
        "",
        "chainrule compiled / PyTorch eager, per run (the spread shows the noise of the machine):",
        "",
        *runs_table(runs),
        "",
        *per_op_section(results),
        "## The other benchmarks",
        "",
        "These print their figures and write no JSON, so this page shows no numbers for them:",
        "",
        "```bash",
        *(
            f"{'.venv/bin/python benchmarks/' + s + (' ' + a if a else ''):<58}# {what}"
            for s, a, what in OTHER_SCRIPTS
        ),
        "```",
        "",
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="exit 1 if the page is out of date")
    args = p.parse_args(argv)
    page = render()
    if args.check:
        if PAGE.read_text() != page:
            print(f"{PAGE} is out of date: run .venv/bin/python benchmarks/make_readme.py")
            return 1
        return 0
    PAGE.write_text(page)
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
