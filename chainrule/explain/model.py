"""``cr.explain(loss, modules=model)``: one real step of a real model, explained.

Works on any tensor of any program (a PyTorch program whose imports were changed included):
the graph behind the tensor must still exist (explain before ``backward()``, or after
``backward(retain_graph=True)``). The engine's own backward pass is recorded once (the ledger,
``chainrule.explain.record``); everything shown is read from it:

* ``report()``: the step's nodes, grouped by module, with shapes, values and what each node
  sent back, then the layer view (Nielsen's BP1-BP4 beside the engine's gradients);
* ``layers()``: the layer view's numbers (``chainrule.explain.layers``);
* ``draw()``: ``cr.viz.draw`` with the modules as boxes; ``html()``: the step-through page with a
  collapsible box per module.

Leaves' ``.grad`` is not touched: explaining a step does not add to the gradients a later
``backward()`` computes. The report and the layer view stay readable after that ``backward()``;
the page and the picture need the graph, so make them first (or use ``retain_graph=True``).

    >>> loss = F.cross_entropy(model(x), y)
    >>> ex = cr.explain(loss, modules=model)
    >>> print(ex.report()); ex.html()   # or cr.explain.explain_tensor(...)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chainrule.autograd.engine import toposort
from chainrule.autograd.tensor import Tensor
from chainrule.backend import xp
from chainrule.explain.core import Explanation
from chainrule.explain.layers import Layer, find_layers, layer_view
from chainrule.explain.ledger import Ledger, check_graph, record
from chainrule.viz.labels import short


@dataclass
class StepExplanation(Explanation):
    """An ``Explanation`` of a recorded step of a program: the same ledger, page and picture,
    with parameters named from the model and nodes grouped by module."""

    boxes: dict[int, str] = field(default_factory=dict)  # id(tensor) -> module path
    classes: dict[str, str] = field(default_factory=dict)  # module path -> class name
    modules: object = None
    what: str = ""
    _layers: list[Layer] | None = None

    @property
    def title(self) -> str:
        root = self.output
        value = short(root._data)
        return f"{self.what}: {self.name(root)} = {value}"

    def bindings_text(self) -> str:
        return f"{len(self.inputs)} parameters and inputs"

    def layers(self) -> list[Layer]:
        """The fully connected layers with BP1-BP4, output layer first (read when the step was
        explained, so still there after a ``backward()`` that freed the graph)."""
        if self._layers is None:
            names = {id(t): n for n, t in self.inputs.items()}
            self._layers = find_layers(self.ledger, names, self.forward)
        return self._layers

    def layer_view(self) -> str:
        return "\n".join(layer_view(self.layers()))

    def report(self, layers: bool = True, **_ignored) -> str:
        """The step as text: forward pass (node, module, op, shape, value), backward pass (what
        each node sent back to each input) and, with ``layers``, the layer view."""
        with xp.errstate(all="ignore"):
            lines = [self.title, ""] + self._forward_lines() + [""] + self._backward_lines()
            lines += ["", "gradients (the engine's, what backward() puts in .grad)"]
            lines += [
                f"  ∂{self.name(self.output)}/∂{n}  {short(g)}" for n, g in self.gradients.items()
            ]
            if layers:
                lines += [""] + layer_view(self.layers())
        return "\n".join(lines)

    def to_dict(self, **_ignored) -> dict:
        """Everything as JSON-ready data, every array in full."""
        steps = []
        for s in self.ledger.steps:
            steps.append(
                {
                    "node": self.name(s.tensor),
                    "op": self.op(s.tensor),
                    "module": self.boxes.get(id(s.tensor)),
                    "upstream": xp.asarray(s.upstream).tolist(),
                    "edges": [
                        {
                            "to": self.name(e.source),
                            "contribution": None
                            if e.contribution is None
                            else xp.asarray(e.contribution).tolist(),
                        }
                        for e in s.edges
                    ],
                }
            )
        return {
            "title": self.title,
            "output": xp.asarray(self.output._data).tolist(),
            "backward": steps,
            "gradients": {n: xp.asarray(g).tolist() for n, g in self.gradients.items()},
            "layers": [layer.to_dict() for layer in self.layers()],
        }

    def html(self, forward: str | None = None) -> str:
        """The step-through page, a collapsible box per module."""
        from chainrule.explain.page import page

        check_graph(self.output, where="explain's page")
        return page(self, forward=forward, boxes=self.boxes, classes=self.classes)

    def draw(self, **kwargs):
        """``cr.viz.draw`` of the output with the model's modules as boxes."""
        from chainrule.viz import draw

        kwargs.setdefault("title", self.title)
        kwargs.setdefault("lang", self.lang)
        if self.modules is not None:
            kwargs.setdefault("modules", self.modules)
        with xp.errstate(all="ignore"):
            return draw(self.output, **kwargs)

    def _where(self, t: Tensor) -> str:
        return self.boxes.get(id(t), "")

    def _forward_lines(self) -> list[str]:
        rows = [["node", "module", "op", "shape", "value"]]
        for t in self.forward:
            shape = "×".join(map(str, t.shape)) or "scalar"
            rows.append([self.name(t), self._where(t), self.op(t), shape, short(t._data)])
        return ["forward pass (inputs first, each node after its inputs)"] + _table(rows)

    def _backward_lines(self) -> list[str]:
        root = self.name(self.output)
        lines = ["backward pass (the engine's order; what each node sends back to its inputs)"]
        for s in self.ledger.steps:
            me = self.name(s.tensor)
            where = f" in {self._where(s.tensor)}" if self._where(s.tensor) else ""
            lines.append(
                f"  {me} {self.op(s.tensor)}{where}, upstream ∂{root}/∂{me} = {short(s.upstream)}"
            )
            for e in s.edges:
                src = self.names.get(id(e.source)) or f"constant {short(e.source._data)}"
                if e.contribution is None:
                    lines.append(f"    → {src}  (no gradient)")
                    continue
                text = f"    → {src}  contribution {short(e.contribution)}"
                if e.arrival > 1:
                    text += f"  running sum {short(e.total)}"
                lines.append(text)
        return lines


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]


def explain_tensor(
    tensor: Tensor, modules=None, params=None, what: str | None = None, lang: str = "en"
) -> StepExplanation:
    """Records chainrule's backward pass from ``tensor`` and explains it.

    Args:
        tensor: any tensor of a program, usually the loss of one step; one element, or it is
            differentiated as its sum (a seed of ones).
        modules: the model (anything with ``named_parameters()``): parameters are named from it
            and its modules become boxes, as in ``cr.viz.draw(tensor, modules=model)``.
        params: names of parameters, e.g. ``dict(model.named_parameters())``.
        what: the first words of the title (default: the model's class, "one step of MLP").
        lang: ``"zh"`` writes the page's and the picture's words in Chinese (the report and
            the layer view stay English).
    Returns:
        A ``StepExplanation``: ``report()``, ``layers()``, ``to_dict()``, ``html()``, ``draw()``.
    Raises:
        TypeError: ``tensor`` is not a Tensor. GraphFreedError: ``backward()`` already freed
        the graph. RuntimeError: the tensor does not require grad.
    """
    from chainrule.explain.gates import boxes_of as gate_boxes
    from chainrule.viz.draw import module_boxes

    if not isinstance(tensor, Tensor):
        raise TypeError(f"explain: expected a Tensor or an expression, got {type(tensor).__name__}")
    with xp.errstate(all="ignore"):
        ledger = record(tensor)
    pnames, boxes, classes = module_boxes(tensor, modules=modules, params=params)
    boxes.update(gate_boxes(modules))  # an LSTM cell's gates, run inside cr.explain.gates()
    order = toposort([tensor], constants=True)
    names = _names(ledger, order, pnames)
    inputs = {names[id(t)]: t for t in order if t._node is None and id(t) in names}
    grads = {n: ledger.grad(t) for n, t in inputs.items() if ledger.grad(t) is not None}
    forward = [t for t in order if t._node is None and id(t) in names] + [
        t for t in order if t._node is not None
    ]
    title = what or (f"one step of {type(modules).__name__}" if modules is not None else "a step")
    ex = StepExplanation(None, inputs, tensor, forward, names, {}, ledger, grads)
    ex.boxes, ex.classes, ex.modules, ex.what = boxes, classes, modules, title
    ex.recorded, ex.lang = title, lang
    ex.layers()  # now, while the graph exists
    return ex


def _names(ledger: Ledger, order: list[Tensor], pnames: dict[int, str]) -> dict[int, str]:
    """Parameters by the model's names; other leaves that require grad by their ``.name`` or
    ``x1``, ``x2``; ops by their ``.name`` or ``n1``, ``n2``; constants stay unnamed."""
    names: dict[int, str] = {}
    used: set[str] = set(pnames.values())
    counters = {"x": 0, "n": 0, "data": 0}
    for t in order:
        if id(t) in pnames:
            names[id(t)] = pnames[id(t)]
            continue
        if t._node is None and not t.requires_grad and t._data.size == 1:
            continue  # a constant number: shown by its value
        # Data (the input image, one-hot labels) are named data1, data2, ...
        prefix = ("x" if t.requires_grad else "data") if t._node is None else "n"
        name = t.name if t.name and t.name not in used else None
        while name is None or name in used:
            counters[prefix] += 1
            name = f"{prefix}{counters[prefix]}"
        names[id(t)] = name
        used.add(name)
    return names
