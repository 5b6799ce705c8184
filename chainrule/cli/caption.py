"""``chainrule caption train|eval|describe``: the image captioner on Fashion Scenes.

* ``train``: teacher-forced training with progress, validation, metrics, curves, checkpoints and
  ``--resume``; ``--minutes`` bounds the training time.
* ``eval CHECKPOINT``: decode a split (beam search) and print every caption metric.
* ``describe CHECKPOINT IMAGE.png ...``: one caption per image, and where the model looked.
"""

from __future__ import annotations

import json
import os
import sys

from chainrule.cli.argtypes import (
    COUNT,
    NON_NEGATIVE,
    POSITIVE,
    POSITIVE_INT,
    SEED,
    DefaultsFormatter,
    float_in,
    whole_numbers,
)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "caption",
        help="train, evaluate and run the image captioner (Fashion Scenes)",
        description="The image captioner: a CNN encoder and an LSTM decoder with soft attention "
        "(or the Show-and-Tell baseline), trained on Fashion Scenes (CAPTIONS.md).",
    )
    csub = p.add_subparsers(dest="caption_command", metavar="ACTION")
    csub.required = True
    _add_train(csub)
    _add_eval(csub)
    _add_describe(csub)
    p.set_defaults(run=run)


def _add_train(csub) -> None:
    from chainrule.captioning.train import CaptionTrainConfig as C
    from chainrule.training.optimizers import OPTIMIZERS

    p = csub.add_parser(
        "train",
        help="train a captioner",
        description="Train a captioner on Fashion Scenes. Each epoch pairs every training scene "
        "with one of its five references, drawn at random (seeded). Writes OUT/model.safetensors, "
        "OUT/checkpoint.safetensors, OUT/metrics.jsonl and OUT/curves.png.",
        formatter_class=DefaultsFormatter,
    )
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--attention",
        dest="attention",
        action="store_true",
        default=True,
        help="soft attention over image regions (Show, Attend and Tell); the default",
    )
    g.add_argument("--no-attention", dest="attention", action="store_false",
                   help="the baseline without attention (Show and Tell)")  # fmt: skip
    p.add_argument("--epochs", type=POSITIVE_INT, default=C.epochs, help="epochs")
    p.add_argument("--batch-size", type=POSITIVE_INT, default=C.batch_size, help="mini-batch size")
    p.add_argument("--lr", type=POSITIVE, default=C.lr, help="(peak) learning rate")
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default=C.optimizer,
                   help="optimiser (as in 'chainrule train')")  # fmt: skip
    p.add_argument("--schedule", choices=["cosine", "constant"], default=C.schedule,
                   help="learning-rate schedule over --epochs")  # fmt: skip
    p.add_argument("--train-size", type=POSITIVE_INT,
                   help="train on the first N training scenes (default: all 30,000)")  # fmt: skip
    # train's name for the same idea (its own action, so errors name the flag typed)
    p.add_argument("--limit", dest="train_size", type=POSITIVE_INT,
                   help="the same as --train-size")  # fmt: skip
    p.add_argument("--val-size", type=COUNT, help="validation scenes (default: all 1,000)")
    p.add_argument("--minutes", type=NON_NEGATIVE,
                   help="stop after this many minutes of training (at a step boundary, "
                   "checkpointed: --resume continues)")  # fmt: skip
    p.add_argument("--all-references", action="store_true",
                   help="use all five references of every scene each epoch")  # fmt: skip
    p.add_argument("--alpha-c", type=NON_NEGATIVE, default=C.alpha_c,
                   help="weight of the doubly stochastic attention term")  # fmt: skip
    _add_model_sizes(p, C)
    p.add_argument("--seed", type=SEED, default=C.seed, help="initialisation, dropout, data order")
    p.add_argument("--out", help="output folder (default: runs/captioner-attention or "
                   "runs/captioner-no-attention)")  # fmt: skip
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.safetensors")
    p.add_argument("--root", help="folder with the Fashion-MNIST files")
    p.add_argument("--json", action="store_true", help="print the final figures as one JSON line")
    p.set_defaults(caption_run=_run_train)


def _add_model_sizes(p, C) -> None:
    """The captioner's sizes (``CaptionerConfig``), defaults from ``CaptionTrainConfig`` C."""
    p.add_argument(
        "--embed-dim", type=POSITIVE_INT, default=C.embed_dim, help="word embedding size"
    )
    p.add_argument("--hidden-dim", type=POSITIVE_INT, default=C.hidden_dim, help="LSTM hidden size")
    p.add_argument(
        "--attention-dim", type=POSITIVE_INT, default=C.attention_dim, help="attention size"
    )
    p.add_argument("--channels", type=whole_numbers(3, "32,64,64"),
                   default=",".join(map(str, C.channels)),
                   help="the encoder's three stage widths")  # fmt: skip
    p.add_argument(
        "--dropout",
        type=float_in(0.0, 1.0, high_open=True),
        default=C.dropout,
        help="dropout before the output",
    )


def _add_eval(csub) -> None:
    p = csub.add_parser(
        "eval",
        help="score a captioner on a split",
        description="Decode every scene of a split and score the captions against the five "
        "references: BLEU-1..4, METEOR (where Java runs), ROUGE-L, CIDEr-D, exact match overall "
        "and by number of items.",
    )
    p.add_argument("checkpoint", help="model.safetensors written by 'chainrule caption train'")
    p.add_argument("--split", default="test", choices=["test", "val", "train"], help="which split")
    p.add_argument("--beam", type=POSITIVE_INT, default=3, help="beam size (1: greedy)")
    p.add_argument("--size", type=POSITIVE_INT, help="score the first SIZE scenes only")
    p.add_argument("--no-meteor", action="store_true", help="skip METEOR (a Java process)")
    p.add_argument("--trivial", action="store_true",
                   help="also score the trivial baseline (the most common training caption)")  # fmt: skip
    p.add_argument("--examples", type=COUNT, default=0, help="print the first N captions written")
    p.add_argument("--root", help="folder with the Fashion-MNIST files")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    p.set_defaults(caption_run=_run_eval)


def _add_describe(csub) -> None:
    p = csub.add_parser(
        "describe",
        help="caption image files",
        description="Write one caption per image. Images should be 64x64 grayscale PNGs (as "
        "Fashion Scenes exports them); other sizes are resized and colour is converted to "
        "grayscale, with a note on stderr. PNG and JPEG files only (whatever their name), of at "
        "most 4096x4096 pixels.",
    )
    p.add_argument("checkpoint", help="model.safetensors written by 'chainrule caption train'")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    p.add_argument("--beam", type=POSITIVE_INT, default=3, help="beam size (1: greedy)")
    p.add_argument("--attention-map", metavar="OUT.png",
                   help="draw, per word, where the model looked (with several images: "
                   "OUT-1.png, OUT-2.png, ...)")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print one JSON line per image")
    p.set_defaults(caption_run=_run_describe)


def run(args) -> int:
    return args.caption_run(args)


# ----- train -----
def _run_train(args) -> int:
    from chainrule.captioning.train import CaptionTrainConfig, train_captioner

    name = "attention" if args.attention else "no-attention"
    cfg = CaptionTrainConfig(
        attention=args.attention,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        optimizer=args.optimizer,
        schedule=args.schedule,
        seed=args.seed,
        out=args.out or f"runs/captioner-{name}",
        train_size=args.train_size,
        val_size=args.val_size,
        minutes=args.minutes,
        alpha_c=args.alpha_c,
        all_references=args.all_references,
        embed_dim=args.embed_dim,
        hidden_dim=args.hidden_dim,
        attention_dim=args.attention_dim,
        channels=args.channels,
        dropout=args.dropout,
        root=args.root,
    )
    _check_training_fits(cfg, args)
    result = train_captioner(cfg, resume=args.resume, log=_log_to(args))
    out = sys.stderr if args.json else sys.stdout
    em = result["val_exact_match"]
    print(
        f"captioner ({name}): {result['epochs']} epochs in {result['seconds']:.0f} s"
        + (f", validation greedy exact match {em:.4f}" if em is not None else ""),
        file=out,
    )
    print(f"model: {cfg.out}/model.safetensors   curves: {cfg.out}/curves.png", file=out)
    if args.json:
        print(json.dumps(result))
    return 0


def _check_training_fits(cfg, args) -> None:
    """Refuses sizes whose training step cannot fit in memory, before anything is built: the
    operating system would grant the arrays lazily and kill the run (or the machine) later."""
    from chainrule.captioning.budget import check_fits, training_bytes
    from chainrule.datasets.fashion_scenes import SPLITS, scene_vocabulary

    # A batch holds at most the whole training split.
    batch = min(cfg.batch_size, cfg.train_size or SPLITS["train"].size)
    flags = (
        f"--channels {','.join(map(str, cfg.channels))} --embed-dim {cfg.embed_dim} --hidden-dim {cfg.hidden_dim} "
        f"--attention-dim {cfg.attention_dim} --batch-size {cfg.batch_size}"
    )
    config = cfg.model_config(len(scene_vocabulary()))
    check_fits(flags, training_bytes(config, batch))


def _check_decoding_fits(args, config, batch_size: int) -> None:
    """As ``_check_training_fits``, for beam search with the sizes of a loaded checkpoint."""
    from chainrule.captioning.budget import check_fits, decoding_bytes

    what = f"--beam {args.beam} over {batch_size} images with the sizes of {args.checkpoint}"
    check_fits(what, decoding_bytes(config, batch_size, args.beam))


def _log_to(args):
    stream = sys.stderr if args.json else sys.stdout
    return lambda line: print(line, file=stream, flush=True)


# ----- eval -----
EVAL_BATCH = 250  # scenes decoded at once


def _run_eval(args) -> int:
    from chainrule.captioning.captioner_state import check_vocabulary, load_captioner
    from chainrule.captioning.evaluate import evaluate_captioner
    from chainrule.datasets import FashionScenes
    from chainrule.metrics.captions import trivial_baseline

    if args.beam < 1:
        raise ValueError(f"--beam must be >= 1, got {args.beam}")
    # The checkpoint first: a wrong file fails at once, before the split is generated.
    model, vocab, _ = load_captioner(args.checkpoint)
    _check_decoding_fits(args, model.config, min(EVAL_BATCH, args.size or EVAL_BATCH))
    ds = FashionScenes(args.split, size=args.size, root=args.root)
    check_vocabulary(args.checkpoint, vocab.tokens, ds.vocab)
    meteor = False if args.no_meteor else None
    scores, candidates = evaluate_captioner(
        model, ds, vocab, args.beam, meteor=meteor, batch_size=EVAL_BATCH
    )
    kind = "attention" if model.attention else "no attention"
    result = {"checkpoint": args.checkpoint, "model": kind, "split": args.split,
              "scenes": len(ds), "beam": args.beam, **scores}  # fmt: skip
    out = sys.stderr if args.json else sys.stdout
    print(f"captioner ({kind}) on Fashion Scenes {args.split} ({len(ds)} scenes), beam "
          f"{args.beam}:", file=out)  # fmt: skip
    _print_scores(scores, out)
    for i in range(min(args.examples, len(ds))):
        mark = "=" if candidates[i] in ds.captions[i] else "x"
        print(f"  [{mark}] {i}: {candidates[i]}   (e.g. {ds.captions[i][0]!r})", file=out)
    if args.trivial:
        train = FashionScenes("train", root=args.root)
        caption, trivial = trivial_baseline(train.captions, ds.captions, ds.num_items,
                                            meteor=meteor)  # fmt: skip
        print(f"trivial baseline (always {caption!r}):", file=out)
        _print_scores(trivial, out)
        result["trivial"] = {"caption": caption, **trivial}
    if args.json:
        print(json.dumps(result))
    return 0


def _print_scores(scores: dict, out) -> None:
    for key, value in scores.items():
        print(f"  {key:<16} {value:.4f}", file=out)


# ----- describe -----
def _run_describe(args) -> int:
    from chainrule.backend import xp
    from chainrule.captioning.attention_map import draw_attention
    from chainrule.captioning.captioner_state import load_captioner
    from chainrule.captioning.decoding import decode
    from chainrule.captioning.images import read_image

    if args.beam < 1:
        raise ValueError(f"--beam must be >= 1, got {args.beam}")
    model, vocab, _ = load_captioner(args.checkpoint)
    if args.attention_map and not model.attention:
        raise ValueError(
            f"--attention-map: {args.checkpoint} is a captioner without attention (trained with "
            "--no-attention); it has no attention to draw"
        )
    _check_decoding_fits(args, model.config, len(args.images))
    size = model.config.image_size
    images = []
    for path in args.images:
        image, notes = read_image(path, size)
        for note in notes:
            print(f"chainrule caption describe: {path}: {note}", file=sys.stderr)
        images.append(image)
    batch = xp.stack(images)
    result = decode(model, batch, vocab, args.beam)
    maps = []
    for k, (path, tokens) in enumerate(zip(args.images, result.tokens, strict=True)):
        caption = vocab.decode(tokens)
        map_path = None
        if args.attention_map:
            map_path = _map_path(args.attention_map, k, len(args.images))
            draw_attention(batch[k], caption.split(), result.alphas[k], map_path,
                           title=f"{os.path.basename(path)}: {caption}")  # fmt: skip
            maps.append(map_path)
        if args.json:
            print(json.dumps({"image": path, "caption": caption, "attention_map": map_path}))
        elif len(args.images) == 1:
            print(caption)
        else:
            print(f"{path}: {caption}")
    if maps and not args.json:
        print(f"attention maps: {', '.join(maps)}", file=sys.stderr)
    return 0


def _map_path(base: str, k: int, n: int) -> str:
    if n == 1:
        return base
    stem, ext = os.path.splitext(base)
    return f"{stem}-{k + 1}{ext or '.png'}"
