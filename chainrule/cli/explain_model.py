"""``chainrule explain --model nielsen --data mnist5k --batch 1``: one real training step of a zoo
model, explained: the ledger grouped by module, the layer view (Nielsen's BP1-BP4 beside the
engine's gradients), and with ``--html``/``--png``/``--svg`` the page and the picture with a box
per module. The model is freshly initialised from ``--seed`` (or loaded from ``--checkpoint``);
the batch is the first ``--batch`` examples of the training split from ``--index`` on.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of the model view, added to ``chainrule explain``'s."""
    g = p.add_argument_group("one step of a model (instead of EXPR)")
    g.add_argument(
        "--model",
        help="a zoo model: nielsen, mlp, cnn (see chainrule train --help), or captioner-step "
        "(one decoding step of the captioner on Fashion Scenes, its LSTM gates as nodes)",
    )
    g.add_argument(
        "--data", default="mnist5k", help="fashion-mnist, mnist, mnist5k (default) or digits"
    )
    g.add_argument(
        "--batch", type=int, default=1, metavar="N", help="examples in the step (default 1)"
    )
    g.add_argument(
        "--index", type=int, default=0, metavar="I", help="the first example (default 0)"
    )
    # --seed (shared with the shapes of expressions) seeds the model's initialisation.
    g.add_argument("--root", help="folder to look for data files in first")
    g.add_argument("--checkpoint", metavar="FILE", help="load the model's state dict from FILE")
    # (--png of a model's step is drawn top to bottom where left to right would be too wide to
    # read at 1,600 px; --rankdir TB, RL or BT is kept as given.)


def run(args: argparse.Namespace) -> int:
    """Explains one step; returns the exit code (0, or 2 on error)."""
    from chainrule.viz import GraphvizNotFoundError

    if args.expression is not None or args.at:
        print(
            "chainrule explain: error: give an expression (with --at) or --model, not both",
            file=sys.stderr,
        )
        return 2
    try:
        ex = explain_step(
            args.model, args.data, args.batch, args.index, args.seed, args.root, args.checkpoint
        )
        ex.lang = args.lang  # the page's and the picture's words
        if args.json:
            print(json.dumps(ex.to_dict()))
        else:
            print(ex.report())
        if args.html:
            written = write_page(args.html, ex.html())
            print(f"chainrule explain: wrote {written}", file=sys.stderr)
        for path, fmt in ((args.svg, "svg"), (args.png, "png")):
            if path:
                # LR (the option's default) leaves draw free to turn a PNG too wide to read.
                rankdir = None if args.rankdir == "LR" else args.rankdir
                written = ex.draw(rankdir=rankdir).save(path, format=fmt)
                print(f"chainrule explain: wrote {written}", file=sys.stderr)
    except BrokenPipeError:  # the reader went away (`| head`): not an error of ours
        sys.stdout = open(os.devnull, "w")  # so that the exit flush stays quiet
        return 0
    except (GraphvizNotFoundError, OSError, RuntimeError, ValueError, KeyError) as e:
        print(f"chainrule explain: error: {e}", file=sys.stderr)
        return 2
    return 0


def explain_step(
    model: str,
    data: str,
    batch: int = 1,
    index: int = 0,
    seed: int = 0,
    root: str | None = None,
    checkpoint: str | None = None,
):
    """One step of zoo model ``model`` on examples ``index .. index+batch-1`` of data set
    ``data``, explained (a ``StepExplanation``)."""
    from chainrule.autograd.creation import tensor
    from chainrule.backend import xp
    from chainrule.datasets import get_dataset
    from chainrule.explain.model import explain_tensor
    from chainrule.models import get_recipe
    from chainrule.random import manual_seed
    from chainrule.serialization import load

    if model == "captioner-step":
        from chainrule.cli.explain_captioner import explain_captioner_step

        return explain_captioner_step(batch, index, seed, root, checkpoint)
    recipe = get_recipe(model)
    ds = get_dataset(data, split="train", root=root)
    if batch < 1 or not 0 <= index <= len(ds) - batch:
        raise ValueError(
            f"--batch {batch} --index {index}: the training split of {data} has {len(ds)} "
            f"examples; choose --batch >= 1 and 0 <= --index <= {len(ds) - batch}"
        )
    images = xp.stack([ds[i][0] for i in range(index, index + batch)])
    labels = xp.array([int(ds[i][1]) for i in range(index, index + batch)], dtype=xp.int64)
    manual_seed(seed)
    net = recipe.build(images.shape[1:], len(ds.classes))
    if checkpoint is not None:
        net.load_state_dict(load(checkpoint))
    x = tensor(images.reshape(batch, -1) if recipe.flatten else images)
    loss = recipe.loss(net(x), tensor(labels))
    what = f"one step of {model} on {data} (batch {batch}, label {', '.join(map(str, labels))})"
    return explain_tensor(loss, modules=net, what=what)


def write_page(path: str, text: str) -> str:
    """Writes the page (of ``chainrule explain --html``, with or without ``--model``); a path that exists must be a regular file (a FIFO would block)."""
    from pathlib import Path

    from chainrule.errors import regular_file

    if Path(path).exists():
        regular_file(path, "HTML file")
    Path(path).write_text(text, encoding="utf-8")
    return path
