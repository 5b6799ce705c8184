"""``chainrule show CHECKPOINT --what filters|activations``: what a convolutional network learned,
as pictures: the first layer's filters, or the feature maps of one test image."""

from __future__ import annotations

import math

from chainrule.cli.argtypes import COUNT
from chainrule.errors import require_extra
from chainrule.serialization import write_atomically


def add_parser(sub) -> None:
    p = sub.add_parser("show", help="draw a CNN's learned filters or one image's feature maps")
    p.add_argument("checkpoint", help="model.safetensors of a convolutional model (e.g. cnn)")
    p.add_argument("--what", choices=["filters", "activations"], default="filters")
    p.add_argument("--image", type=COUNT, default=0, help="test image index (activations)")
    p.add_argument("--data", help="data set of the image (default: the one trained on)")
    p.add_argument("--root", help="folder to look for data files in first")
    p.add_argument("--out", default="show.png", help="PNG file to write")
    p.set_defaults(run=run)


def run(args) -> int:
    from chainrule import nn
    from chainrule.training.classifier_state import load_model

    model, _, meta = load_model(args.checkpoint)
    convs = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError(
            f"{args.checkpoint} holds a {meta['model']!r} model, which has no convolution layer; "
            "'show' draws the filters and feature maps of convolutional models such as cnn"
        )
    if args.what == "filters":
        name, conv = convs[0]
        w = conv.weight._data  # (O, C, kh, kw)
        panels = [(f"{i}", w[i].mean(axis=0)) for i in range(w.shape[0])]
        title = f"{meta['model']}: the {w.shape[0]} filters of {name} ({w.shape[2]}×{w.shape[3]})"
        _grid([("filters", panels)], title, args.out, diverging=True)
    else:
        image, label, classes = _test_image(args, meta)
        maps = _feature_maps(model, convs, image)
        pred = int(model(_batch(image))._data.argmax())
        groups = [("input", [(f"label: {classes[label]}", image[0])])]
        for name, fmap in maps:
            groups.append(
                (f"{name} {tuple(fmap.shape)}", [(f"{c}", fmap[c]) for c in range(fmap.shape[0])])
            )
        title = f"test image {args.image}: {classes[label]}, predicted {classes[pred]}"
        _grid(groups, title, args.out)
    print(f"wrote {args.out}")
    return 0


def _test_image(args, meta):
    from chainrule.datasets import load_splits
    from chainrule.datasets.registry import DATASETS

    data = args.data or meta["data"]
    xt, yt = load_splits(data, args.root).test
    if not 0 <= args.image < len(yt):
        raise ValueError(
            f"--image must lie in 0..{len(yt) - 1} (the {data} test split), got {args.image}"
        )
    return xt[args.image], int(yt[args.image]), DATASETS[data].classes


def _batch(image):
    from chainrule.autograd.creation import from_numpy

    return from_numpy(image[None])


def _feature_maps(model, convs, image):
    """Outputs of every convolution for one image, captured by wrapping each layer's forward."""
    from chainrule.autograd.grad_mode import no_grad

    captured = []
    for name, conv in convs:
        original = conv.forward

        def record(x, _orig=original, _name=name):
            y = _orig(x)
            captured.append((_name, y._data[0]))
            return y

        conv.forward = record
    try:
        with no_grad():
            model(_batch(image))
    finally:
        for _, conv in convs:
            del conv.forward
    return captured


def _grid(groups, title, path, diverging=False):
    require_extra("cli", "matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = 16
    rows = sum(math.ceil(len(p) / cols) for _, p in groups) + len(groups)
    fig = plt.figure(figsize=(cols * 0.8, rows * 0.85 + 0.6))
    fig.suptitle(title)
    r = 0
    for label, panels in groups:
        ax = fig.add_subplot(rows, 1, r + 1)
        ax.axis("off")
        ax.text(0, 0.2, label, fontsize=10, weight="bold", transform=ax.transAxes)
        r += 1
        for i, (name, img) in enumerate(panels):
            ax = fig.add_subplot(rows, cols, (r + i // cols) * cols + i % cols + 1)
            lim = abs(img).max() or 1.0
            kw = {"cmap": "RdBu_r", "vmin": -lim, "vmax": lim} if diverging else {"cmap": "gray"}
            ax.imshow(img, interpolation="nearest", **kw)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(name, fontsize=6, pad=1)
        r += math.ceil(len(panels) / cols)
    fig.tight_layout()
    try:
        write_atomically(
            path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"), "chainrule show"
        )
    finally:
        plt.close(fig)
