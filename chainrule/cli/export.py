"""``chainrule export CHECKPOINT OUT.onnx``: a trained classifier as an ONNX model."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="export a trained model to ONNX (for onnxruntime & co.)")
    p.add_argument("checkpoint", help="model.safetensors written by 'chainrule train'")
    p.add_argument("out", help="the .onnx file to write")
    p.add_argument(
        "--opset", type=int, default=17, help="ONNX opset version, 13 or later (default: 17)"
    )
    p.set_defaults(run=run)


def run(args) -> int:
    from chainrule.serialization.atomic import check_writable

    check_writable(args.out, "out")  # a device, FIFO, socket or folder: refused before loading

    from chainrule import onnx
    from chainrule.autograd.creation import zeros
    from chainrule.backend import xp
    from chainrule.training.classifier_state import load_model

    model, _, meta = load_model(args.checkpoint)
    shape = tuple(meta["input_shape"])
    if meta.get("flatten"):
        shape = (int(xp.prod(shape)),)
    example = zeros(1, *shape)
    onnx.export(
        model,
        (example,),
        args.out,
        input_names=["input"],
        output_names=["logits"],
        opset_version=args.opset,
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
    )
    print(f"wrote {args.out}: {meta['model']} ({meta['data']}), input (batch, {', '.join(map(str, shape))}), "
          "output logits (batch, classes)")  # fmt: skip
    return 0
