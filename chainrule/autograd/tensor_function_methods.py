"""Tensor's methods that are PyTorch's functions: ``x.sum(dim)`` is ``cr.sum(x, dim)``,
``x.softmax(dim)`` is ``cr.softmax(x, dim)``. Each method here IS the function (the same object,
bound to the tensor), so a method and its function cannot disagree; the few whose method
signature differs from the function's (``x.flip(0, 1)`` and ``cr.flip(x, (0, 1))``) are written
in ``tensor_shape_methods.py``."""

from __future__ import annotations

from chainrule.autograd import indexing, linalg, pointwise, reductions, sorting


class FunctionMethods:
    """A base of ``Tensor``: its methods that are the functions of the same name."""

    __slots__ = ()  # Tensor's instances keep its __slots__ only (no __dict__)

    # ----- arithmetic (the operators are in tensor_operators.py) -----
    add = pointwise.add
    sub = pointwise.sub
    mul = pointwise.mul
    div = pointwise.div
    pow = pointwise.pow
    neg = pointwise.neg
    square = pointwise.square
    lerp = pointwise.lerp
    clone = pointwise.clone

    # ----- functions of one value -----
    exp = pointwise.exp
    log = pointwise.log
    sqrt = pointwise.sqrt
    abs = pointwise.abs
    sin = pointwise.sin
    cos = pointwise.cos
    tan = pointwise.tan
    tanh = pointwise.tanh
    sigmoid = pointwise.sigmoid
    relu = pointwise.relu
    clamp = pointwise.clamp
    clip = pointwise.clip
    floor = pointwise.floor
    ceil = pointwise.ceil
    round = pointwise.round
    trunc = pointwise.trunc
    sign = pointwise.sign

    # ----- comparisons and logic -----
    eq = pointwise.eq
    ne = pointwise.ne
    lt = pointwise.lt
    le = pointwise.le
    gt = pointwise.gt
    ge = pointwise.ge
    logical_and = pointwise.logical_and
    logical_or = pointwise.logical_or
    logical_xor = pointwise.logical_xor
    logical_not = pointwise.logical_not
    isclose = pointwise.isclose
    allclose = pointwise.allclose
    equal = pointwise.equal

    # ----- reductions -----
    sum = reductions.sum
    mean = reductions.mean
    var = reductions.var
    std = reductions.std
    max = reductions.max
    min = reductions.min
    amax = reductions.amax
    amin = reductions.amin
    argmax = reductions.argmax
    argmin = reductions.argmin
    softmax = reductions.softmax
    log_softmax = reductions.log_softmax
    logsumexp = reductions.logsumexp
    cumsum = reductions.cumsum
    cumprod = reductions.cumprod
    prod = reductions.prod
    norm = reductions.norm
    sort = sorting.sort
    argsort = sorting.argsort
    topk = sorting.topk
    median = sorting.median

    # ----- products -----
    matmul = linalg.matmul
    dot = linalg.dot
    mm = linalg.mm
    bmm = linalg.bmm

    # ----- selecting, scattering, splitting -----
    gather = indexing.gather
    index_select = indexing.index_select
    scatter = indexing.scatter
    scatter_add = indexing.scatter_add
    masked_fill = indexing.masked_fill
    masked_select = indexing.masked_select
    tril = indexing.tril
    triu = indexing.triu
    roll = indexing.roll
    narrow = indexing.narrow
    split = indexing.split
    chunk = indexing.chunk
    unbind = indexing.unbind
