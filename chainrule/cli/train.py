"""``chainrule train MODEL --data DATASET``: train a zoo model with progress, curves, checkpoints."""

from __future__ import annotations

import json
import os

from chainrule.cli.argtypes import (
    COUNT,
    NON_NEGATIVE,
    POSITIVE,
    POSITIVE_INT,
    SEED,
    DefaultsFormatter,
)
from chainrule.training.optimizers import OPTIMIZERS


def add_parser(sub) -> None:
    from chainrule.models.registry import MODELS, load_optional_models

    load_optional_models()
    p = sub.add_parser(
        "train",
        help="train a zoo model on a data set",
        description="Train a zoo model. Defaults (epochs, batch size, lr, optimizer) come from "
        "the model's recipe; each flag overrides one. Under 'mpirun -n N' it trains "
        "data-parallel on N processes, each taking --batch-size examples per step (see "
        "docs/distributed.md).",
        formatter_class=DefaultsFormatter,
    )
    p.add_argument("model", choices=sorted(MODELS), help="zoo model")
    p.add_argument(
        "--data", default="fashion-mnist", help="fashion-mnist, mnist, mnist5k or digits"
    )
    p.add_argument("--epochs", type=POSITIVE_INT, help="epochs (default: the recipe's)")
    p.add_argument(
        "--batch-size", type=POSITIVE_INT, help="mini-batch size (default: the recipe's)"
    )
    p.add_argument(
        "--lr",
        type=POSITIVE,
        help="learning rate (default: the recipe's; with another --optimizer, that optimiser's "
        "own default)",
    )
    p.add_argument(
        "--optimizer", choices=sorted(OPTIMIZERS), help="optimiser (default: the recipe's)"
    )
    _add_run_flags(p)
    p.set_defaults(run=run)


def _add_run_flags(p) -> None:
    """The flags of the run's schedule, length, data and outputs (the recipe's are above)."""
    p.add_argument(
        "--schedule",
        choices=["cosine", "constant"],
        help="learning-rate schedule over --epochs (default: the recipe's)",
    )
    p.add_argument(
        "--minutes",
        type=NON_NEGATIVE,
        help="stop after this many minutes of training (at a step boundary, checkpointed: "
        "--resume continues)",
    )
    p.add_argument("--seed", type=SEED, default=0, help="seed of initialisation and data order")
    p.add_argument("--out", help="output folder (default: runs/MODEL-DATA)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.safetensors")
    p.add_argument("--root", help="folder to look for data files in first")
    p.add_argument(
        "--val-size",
        type=COUNT,
        help="validation examples held out of the training split (default: the data set's)",
    )
    p.add_argument(
        "--limit", type=POSITIVE_INT, help="train on the first LIMIT training examples only"
    )
    # caption train's name for the same idea (its own action, so errors name the flag typed)
    p.add_argument("--train-size", dest="limit", type=POSITIVE_INT, help="the same as --limit")
    p.add_argument(
        "--compile",
        action="store_true",
        help="record the training step once and replay it (cr.compile): same results, less "
        "Python per step",
    )
    p.add_argument("--json", action="store_true", help="print the final figures as one JSON line")


def run(args) -> int:
    from chainrule import distributed as dist
    from chainrule.training.trainer import TrainConfig, TrainingDiverged, train

    cfg = TrainConfig(
        model=args.model,
        data=args.data,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        optimizer=args.optimizer,
        seed=args.seed,
        out=args.out or f"runs/{args.model}-{args.data}",
        root=args.root,
        val_size=args.val_size,
        limit=args.limit,
        compile=args.compile,
        schedule=args.schedule,
        minutes=args.minutes,
    )
    # Under mpirun, an error on one rank ends the whole job (the others would wait for ever).
    with dist.abort_on_error(
        brief=not os.environ.get("CHAINRULE_DEBUG"),
        exit_code=lambda e: 1 if isinstance(e, TrainingDiverged) else 2,
    ):
        result = train(cfg, resume=args.resume)
    if not dist.is_main():
        return 0
    print(
        f"test accuracy {result['test_accuracy']:.4f} after {result['epochs']} epochs "
        f"({result['seconds']:.0f} s)"
    )
    print(f"checkpoint: {result['out']}/model.safetensors   curves: {result['out']}/curves.png")
    if args.json:
        print(json.dumps(result))
    return 0
