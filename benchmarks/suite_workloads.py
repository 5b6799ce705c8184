"""The workloads of ``benchmarks/suite.py``: for each, a chainrule run (eager or ``cr.compile``d)
and a PyTorch run (eager or ``torch.compile``d) of one training step, from the same weights."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

import chainrule as cr

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_captioner
import bench_conv
import bench_ops
from gemm_floor import floor_run, record_gemms

from chainrule.models import get_recipe
from chainrule.training.optimizers import make_optimizer

POOL = 4  # distinct random batches, cycled
OPS = 1000  # ops in the chain of the ``ops`` workload


# ----- workloads: each makes chainrule and PyTorch runs from the same weights -----
class Run:
    """One variant of one workload: ``step(i)`` takes a step on batch ``i % POOL`` and returns the
    loss (a chainrule Tensor, a torch tensor or a float); ``compiled`` is the ``CompiledStep``."""

    def __init__(self, step: Callable[[int], object], model=None, compiled=None, params=()):
        self.step = step
        self.model = model
        self.compiled = compiled
        self.params = list(params)  # chainrule Tensors whose values the exactness check compares


def loss_value(loss) -> np.ndarray:
    if isinstance(loss, cr.Tensor):
        return np.array(loss.data, copy=True)
    if hasattr(loss, "detach"):
        return loss.detach().numpy().copy()
    return np.asarray(loss)


def _copy_weights(cr_model, tmodel) -> None:
    """chainrule's parameters and buffers into the PyTorch model: by name where the names agree,
    else in order (the same layers in the same order), shapes checked either way."""
    import torch

    src = {k: np.array(v.data) for k, v in cr_model.state_dict().items()}
    dst = tmodel.state_dict()
    if set(src) == set(dst):
        pairs = [(k, src[k]) for k in dst]
    else:
        assert len(src) == len(dst), f"{len(src)} chainrule tensors, {len(dst)} in PyTorch"
        pairs = list(zip(dst, src.values()))
    new = {}
    for k, a in pairs:
        assert tuple(dst[k].shape) == a.shape, (k, dst[k].shape, a.shape)
        new[k] = torch.from_numpy(np.ascontiguousarray(a)).to(dst[k].dtype)
    tmodel.load_state_dict(new, strict=True)


def set_dropout(model, p: float) -> list[float]:
    """Sets every dropout module's p (chainrule or PyTorch); returns the old values, in order."""
    old = []
    for m in model.modules():
        if type(m).__name__ == "Dropout":
            old.append(m.p)
            m.p = p
    return old


def restore_dropout(model, ps: list[float]) -> None:
    mods = [m for m in model.modules() if type(m).__name__ == "Dropout"]
    for m, p in zip(mods, ps):
        m.p = p


def _chainrule_run(model, step_fn, compiled: bool, data) -> Run:
    """A chainrule variant: ``step_fn`` (``cr.compile``d or not) on batch ``i % POOL`` of
    ``data``; the exactness check compares the model's parameters and buffers."""
    fn = cr.compile(step_fn) if compiled else step_fn
    return Run(
        lambda i: fn(*data[i % POOL]),
        model,
        fn if compiled else None,
        list(model.parameters()) + list(model.buffers()),
    )


class Workload:
    name = ""
    description = ""
    has_dropout = False

    def batches(self) -> list[tuple[np.ndarray, ...]]:
        raise NotImplementedError

    def chainrule(self, compiled: bool) -> Run:
        raise NotImplementedError

    def torch(self, compiled: bool) -> Run:
        raise NotImplementedError

    def per_step_note(self, ms: float) -> str:
        return ""

    def by_hand(self) -> Run | None:
        """The step written by hand in NumPy, where the suite has one (else None)."""
        return None

    def gemm_floor(self) -> Run | None:
        """The step's matrix products alone, in NumPy (``gemm_floor.py``), where the suite
        measures that floor (the convolutional workloads; else None)."""
        return None


class RecipeWorkload(Workload):
    """A zoo recipe (nielsen, mlp, cnn) at its batch size, on random images and labels."""

    def __init__(self, name: str):
        self.name = name
        self.recipe = get_recipe(name)
        self.batch = self.recipe.batch_size
        self.has_dropout = name == "cnn"
        self.description = (
            f"{self.recipe.description}; one step at batch {self.batch} "
            f"(optimiser {self.recipe.optimizer}, lr {self.recipe.lr}, no schedule)"
        )
        self._batches = None

    def batches(self):
        if self._batches is None:
            if self.name == "cnn":
                x, y = bench_conv.batch(self.batch)  # seed 0, as bench_conv.py
                rng = np.random.default_rng(1)
                out = [(x, y)]
                for _ in range(POOL - 1):
                    out.append(
                        (
                            rng.random(x.shape, dtype=np.float32),
                            rng.integers(0, 10, self.batch),
                        )
                    )
            else:
                rng = np.random.default_rng(0)
                out = [
                    (
                        rng.random((self.batch, 784), dtype=np.float32),
                        rng.integers(0, 10, self.batch),
                    )
                    for _ in range(POOL)
                ]
            self._batches = out
        return self._batches

    def _cr_model(self):
        cr.manual_seed(0)
        return self.recipe.build((1, 28, 28), 10)

    def chainrule(self, compiled: bool) -> Run:
        model = self._cr_model()
        opt = make_optimizer(self.recipe.optimizer, model.parameters(), self.recipe.lr)
        loss_fn = self.recipe.loss

        def step_fn(x, y):
            loss = loss_fn(model(cr.from_numpy(x)), cr.from_numpy(y))
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        return _chainrule_run(model, step_fn, compiled, self.batches())

    def gemm_floor(self) -> Run | None:
        if self.name != "cnn":
            return None
        model = self._cr_model()
        x = cr.from_numpy(self.batches()[0][0])
        return floor_run(record_gemms(model, lambda: model(x)), Run)

    def by_hand(self) -> Run | None:
        """``nielsen`` only: the same step written by hand as whole-batch float32 NumPy, in place
        where it can be (25 NumPy calls): the floor the compiled goal is set against."""
        if self.name != "nielsen":
            return None
        w1, b1, w2, b2 = (np.array(p.data, dtype=np.float32) for p in self._cr_model().parameters())
        eye = np.eye(10, dtype=np.float32)
        data = [(x, eye[y]) for x, y in self.batches()]
        lr = np.float32(self.recipe.lr / self.batch)

        def sigmoid(z):  # in place; e^-z overflows to inf for z < -88, giving 0, as it should
            with np.errstate(over="ignore"):
                np.exp(np.negative(z, out=z), out=z)
            z += 1
            return np.reciprocal(z, out=z)

        def step(i):
            x, y = data[i % POOL]
            z1 = x @ w1.T
            z1 += b1
            a1 = sigmoid(z1)
            z2 = a1 @ w2.T
            z2 += b2
            a2 = sigmoid(z2)
            d2 = a2 - y
            loss = 0.5 * float(np.vdot(d2, d2)) / len(x)
            d2 *= a2
            d2 *= 1 - a2
            d1 = d2 @ w2
            d1 *= a1
            d1 *= 1 - a1
            gw2 = d2.T @ a1
            gw2 *= lr
            w2.__isub__(gw2)
            b2.__isub__(d2.sum(0) * lr)
            gw1 = d1.T @ x
            gw1 *= lr
            w1.__isub__(gw1)
            b1.__isub__(d1.sum(0) * lr)
            return loss

        return Run(step)

    def _torch_model(self):
        import torch

        nn = torch.nn
        if self.name == "nielsen":
            return nn.Sequential(nn.Linear(784, 30), nn.Sigmoid(), nn.Linear(30, 10), nn.Sigmoid())
        if self.name == "mlp":
            return nn.Sequential(
                nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)
            )
        return bench_conv.build(nn)

    def torch(self, compiled: bool) -> Run:
        import torch

        tm = self._torch_model()
        _copy_weights(self._cr_model(), tm)
        if self.recipe.optimizer == "sgd":
            opt = torch.optim.SGD(tm.parameters(), lr=self.recipe.lr)
        else:
            opt = torch.optim.Adam(tm.parameters(), lr=self.recipe.lr)
        if self.name == "nielsen":
            eye = torch.eye(10)

            def loss_fn(out, yb):  # the quadratic cost of bench_training.py
                return 0.5 * ((out - eye[yb]) ** 2).sum() / len(yb)
        else:  # the recipe's keywords (the cnn's label smoothing) on torch's cross-entropy
            keywords = getattr(self.recipe.loss, "keywords", {})
            loss_fn = functools.partial(torch.nn.functional.cross_entropy, **keywords)
        fwd = torch.compile(tm) if compiled else tm
        data = [tuple(torch.from_numpy(a) for a in b) for b in self.batches()]

        def step(i):
            x, y = data[i % POOL]
            loss = loss_fn(fwd(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        return Run(step, tm)


class CaptionerWorkload(Workload):
    name = "captioner"
    has_dropout = True

    def __init__(self):
        from chainrule.datasets.fashion_scenes import scene_vocabulary
        from chainrule.models.captioner import CaptionerConfig

        self.config = CaptionerConfig(vocab_size=len(scene_vocabulary()))
        self.description = (
            f"attention captioner (bench_captioner.py), batch {bench_captioner.N}, "
            f"{bench_captioner.T} steps, vocab {self.config.vocab_size}; forward, masked "
            "cross-entropy + attention regulariser, backward, clip_grad_norm 5, Adam 1e-3"
        )
        self._batches = None

    def batches(self):
        if self._batches is None:
            v = self.config.vocab_size
            self._batches = [bench_captioner.make_batch(v, seed) for seed in range(POOL)]
        return self._batches

    def _cr_model(self):
        from chainrule.models.captioner import Captioner

        cr.manual_seed(0)
        return Captioner(self.config)

    def chainrule(self, compiled: bool) -> Run:
        model = self._cr_model()
        opt = cr.optim.Adam(model.parameters(), lr=1e-3)

        def step_fn(images, inputs, targets):
            return bench_captioner.chainrule_step(model, opt, images, inputs, targets)

        return _chainrule_run(model, step_fn, compiled, self.batches())

    def gemm_floor(self) -> Run | None:
        model = self._cr_model()
        images, inputs, _ = self.batches()[0]
        shapes = record_gemms(model, lambda: model(cr.from_numpy(images), cr.from_numpy(inputs)))
        return floor_run(shapes, Run)

    def torch(self, compiled: bool) -> Run:
        import torch

        tm = bench_captioner.torch_model(self.config)
        _copy_weights(self._cr_model(), tm)
        opt = torch.optim.Adam(tm.parameters(), lr=1e-3)
        fwd = torch.compile(tm) if compiled else tm
        data = [tuple(torch.from_numpy(a) for a in b) for b in self.batches()]
        return Run(lambda i: bench_captioner.torch_step(fwd, opt, *data[i % POOL]), tm)


class OpsWorkload(Workload):
    name = "ops"

    def __init__(self, n_ops: int = OPS):
        self.n_ops = n_ops
        self.description = (
            f"bench_ops.py: a chain of {n_ops} elementwise ops (mul by scalar, add, tanh, mul) on "
            "16 float32 values, forward + backward (no optimiser)"
        )
        self.data = np.random.default_rng(0).normal(size=16).astype(np.float32)

    def batches(self):
        return [(self.data,)]

    def chainrule(self, compiled: bool) -> Run:
        x = cr.tensor(self.data, requires_grad=True)
        w = cr.tensor(np.full_like(self.data, 0.5), requires_grad=True)
        n = self.n_ops

        def step_fn(x, w):
            loss = bench_ops.chain(x, w, n)
            loss.backward()
            return loss

        fn = cr.compile(step_fn) if compiled else step_fn

        def step(i):
            x.grad = w.grad = None  # outside the compiled function: a replay runs no Python
            return fn(x, w)

        run = Run(step, None, fn if compiled else None)
        run.grads = lambda: [x.grad.numpy().copy(), w.grad.numpy().copy()]
        return run

    def torch(self, compiled: bool) -> Run:
        import torch

        x = torch.tensor(self.data, requires_grad=True)
        w = torch.full_like(x, 0.5).requires_grad_()
        n = self.n_ops

        def chain(x, w):
            return bench_ops.chain(x, w, n)

        fwd = torch.compile(chain) if compiled else chain

        def step(i):
            x.grad = w.grad = None
            loss = fwd(x, w)
            loss.backward()
            return loss

        return Run(step)

    def per_step_note(self, ms: float) -> str:
        return f"{ms / self.n_ops * 1e3:.2f} us/op"


def make_workload(name: str) -> Workload:
    if name == "captioner":
        return CaptionerWorkload()
    if name == "ops":
        return OpsWorkload()
    return RecipeWorkload(name)


def make_run(work: Workload, variant: str) -> Run:
    if variant == "numpy_by_hand":
        return work.by_hand()
    if variant == "gemm_floor":
        return work.gemm_floor()
    if variant.startswith("cr_"):
        return work.chainrule(compiled=variant == "cr_compiled")
    return work.torch(compiled=variant == "torch_compile")
