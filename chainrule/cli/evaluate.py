"""``chainrule eval CHECKPOINT --data DATASET``: accuracy and loss of a trained model."""

from __future__ import annotations

import json


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="evaluate a trained model on a data set's test split")
    p.add_argument("checkpoint", help="model.safetensors written by 'chainrule train'")
    p.add_argument("--data", help="data set (default: the one it was trained on)")
    p.add_argument("--split", default="test", choices=["test", "val"], help="which split")
    p.add_argument("--root", help="folder to look for data files in first")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    p.set_defaults(run=run)


def run(args) -> int:
    from chainrule.datasets import load_splits
    from chainrule.training.classifier_state import load_model
    from chainrule.training.trainer import evaluate

    model, recipe, meta = load_model(args.checkpoint)
    data = args.data or meta["data"]
    splits = load_splits(data, args.root)
    x, y = splits.test if args.split == "test" else splits.val
    if tuple(x.shape[1:]) != tuple(meta["input_shape"]):
        raise ValueError(
            f"{args.checkpoint} was trained on inputs of shape {tuple(meta['input_shape'])} "
            f"({meta['data']}), but {data} has {tuple(x.shape[1:])}"
        )
    if meta.get("flatten"):
        x = x.reshape(len(x), -1)
    r = evaluate(model, recipe.loss, x, y)
    result = {"model": meta["model"], "data": data, "split": args.split,
              f"{args.split}_accuracy": round(r["accuracy"], 4), f"{args.split}_loss": round(r["loss"], 6),
              "correct": r["correct"], "total": r["total"]}  # fmt: skip
    print(f"{meta['model']} on {data} ({args.split}): accuracy {r['accuracy']:.4f} "
          f"({r['correct']} / {r['total']}), loss {r['loss']:.4f}")  # fmt: skip
    if args.json:
        print(json.dumps(result))
    return 0
