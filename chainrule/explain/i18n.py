"""The words of explain's reports, in English and in Chinese (``--lang zh``, ``lang="zh"``).

One catalogue: key -> {"en": ..., "zh": ...}, each a ``str.format`` template. The Chinese uses
the texts' own terms: 前向传播 (forward pass), 反向传播 (backward pass, backpropagation), 链式法则
(chain rule), 局部导数 (local derivative), 梯度 (gradient), 上游梯度 (upstream gradient), 贡献
(contribution), 累加 (running sum), 学习率 (learning rate), 输入 (input), 输出 (output), 权重
(weight), 误差 (error), 节点 (node), 语句 (statement), 扰动 (nudge), 数值检验 (numerical check).
Symbols (∂, ×, −, σ, δ, ⊙) and numbers stay as they are in both languages.
"""

from __future__ import annotations

import unicodedata

LANGS = ("en", "zh")

CATALOGUE: dict[str, dict[str, str]] = {
    # ----- the ledger -----
    "forward_head": {
        "en": "forward pass (inputs first, each node after its inputs)",
        "zh": "前向传播（先输入，每个节点在其输入之后）",
    },
    "backward_head": {
        "en": "backward pass (chainrule's order, output first; contribution = upstream × local)",
        "zh": "反向传播（chainrule 的顺序，先输出；贡献 = 上游梯度 × 局部导数）",
    },
    "backward_head_statements": {
        "en": "backward pass (the statements' order, last statement first; contribution = "
        "upstream × local)",
        "zh": "反向传播（语句的顺序，从最后一条语句开始；贡献 = 上游梯度 × 局部导数）",
    },
    "gradients_head": {"en": "gradients", "zh": "梯度"},
    "columns": {
        "en": "node|op|inputs|shape|value|expression",
        "zh": "节点|运算|输入|形状|值|表达式",
    },
    "op_input": {"en": "input", "zh": "输入"},
    "seed_note": {"en": " (the seed: ∂{me}/∂{me} = 1)", "zh": "（种子：∂{me}/∂{me} = 1）"},
    "outer": {"en": "an outer product, {name}'s shape", "zh": "外积，形状同 {name}"},
    "broadcast": {
        "en": "δ broadcast to every element of {name} (shape {shape})",
        "zh": "δ 广播到 {name} 的每个元素（形状 {shape}）",
    },
    "summed_back": {
        "en": "summed back to {shape}: the input was broadcast",
        "zh": "求和回到形状 {shape}：该输入曾被广播",
    },
    "transposed": {"en": "δᵀ (the gradient transposed back)", "zh": "δᵀ（梯度转置回去）"},
    "reshaped": {
        "en": "δ reshaped back to {name}'s shape {shape}",
        "zh": "δ 变形回 {name} 的形状 {shape}",
    },
    "scalar": {"en": "scalar", "zh": "标量"},
    "at": {"en": "at", "zh": "取值"},
    "upstream": {"en": "upstream", "zh": "上游梯度"},
    "seed": {"en": "the seed", "zh": "种子"},
    "local": {"en": "local", "zh": "局部导数"},
    "contribution": {"en": "contribution", "zh": "贡献"},
    "running_sum": {"en": "running sum at {name}: ", "zh": "{name} 处的累加："},
    "constant_edge": {"en": "(a constant: no gradient)", "zh": "（常数：没有梯度）"},
    "nonfinite": {
        "en": "note: some values are not finite (nan or inf), so gradients through them are too",
        "zh": "注意：有些值不是有限数（nan 或 inf），经过它们的梯度也一样",
    },
    # ----- --learn -----
    "learn_head": {
        "en": "learning {name} by gradient descent: {name} ← {name} − α·∂{out}/∂{name}, "
        "learning rate α = {lr}, {steps} step{s}",
        "zh": "用梯度下降学习 {name}：{name} ← {name} − α·∂{out}/∂{name}，学习率 α = {lr}，"
        "共 {steps} 步",
    },
    "learn_start": {
        "en": "start: {name} = {value}, {out} = {output}",
        "zh": "开始：{name} = {value}，{out} = {output}",
    },
    "learn_columns": {
        "en": "step|{name}|{out}|gradient ∂{out}/∂{name}|update −α·gradient|new {name}|new {out}",
        "zh": "步|{name}|{out}|梯度 ∂{out}/∂{name}|更新 −α·梯度|新的 {name}|新的 {out}",
    },
    "learn_end": {
        "en": "after {steps} step{s}: {name} = {value}, {out} = {output} (from {first})",
        "zh": "{steps} 步之后：{name} = {value}，{out} = {output}（开始时 {first}）",
    },
    "learn_half_note": {
        "en": "note: this gradient is the true derivative of the square, 2·({inner})·∂({inner})/"
        "∂{name}; the texts' weight_delta drops the factor 2 (it is the derivative of "
        "½·({inner})², half of this gradient), so the texts' α is --lr α/2 here (their α = 1 is "
        "--lr 0.5)",
        "zh": "注意：这里的梯度是平方的真实导数 2·({inner})·∂({inner})/∂{name}；教材的 "
        "weight_delta 省去了因子 2（它是 ½·({inner})² 的导数，是这个梯度的一半），所以教材的学习率 "
        "α 在这里是 --lr α/2（教材的 α = 1 即 --lr 0.5）",
    },
    "square_note": {
        "en": "note: the output is a square, ({inner})², so each gradient carries its factor 2; "
        "the texts' weight_delta is the derivative of ½·({inner})², half of these gradients",
        "zh": "注意：输出是平方 ({inner})²，所以每个梯度都带有因子 2；教材的 weight_delta 是 "
        "½·({inner})² 的导数，是这些梯度的一半",
    },
    "learn_not_input": {
        "en": "--learn {name}: not an input of the expression; the inputs are {inputs}",
        "zh": "--learn {name}：不是表达式的输入；输入有 {inputs}",
    },
    "learn_computed": {
        "en": "--learn {name}: {name} is computed by a statement; --learn takes an input ({inputs})",
        "zh": "--learn {name}：{name} 由语句计算得出；--learn 只能学习输入（{inputs}）",
    },
    "learn_steps": {
        "en": "--steps must be at least 1, got {steps}",
        "zh": "--steps 至少为 1，收到 {steps}",
    },
    "learn_lr": {
        "en": "--lr must be a positive finite number, got {lr}",
        "zh": "--lr 必须是有限的正数，收到 {lr}",
    },
    "learn_diverged": {
        "en": "--learn {name}: the run diverged at step {step}: {what} is {value}; stopped (the "
        "learning rate {lr} is too large here)",
        "zh": "--learn {name}：第 {step} 步发散：{what} 为 {value}；已停止（学习率 {lr} 太大）",
    },
    "plot_title": {
        "en": "{out} against {name}: {steps} step{s} of gradient descent, α = {lr}",
        "zh": "{out} 对 {name} 的曲线：梯度下降 {steps} 步，学习率 α = {lr}",
    },
    "plot_steps_title": {
        "en": "{out} after each step of gradient descent on {name}, α = {lr}",
        "zh": "对 {name} 做梯度下降时每一步之后的 {out}，学习率 α = {lr}",
    },
    "plot_step": {"en": "step", "zh": "步"},
    "plot_curve": {"en": "{out} as a function of {name}", "zh": "{out} 作为 {name} 的函数"},
    "plot_visited": {"en": "the steps", "zh": "各步"},
    # ----- --nudge -----
    "nudge_head": {
        "en": "nudges: each node moved by ±h = {h}, everything after it computed again "
        "(slope (f(+h) − f(−h))/2h beside backprop's ∂{out}/∂node)",
        "zh": "扰动：每个节点移动 ±h = {h}，其后的一切重新计算（斜率 (f(+h) − f(−h))/2h "
        "与反向传播的 ∂{out}/∂节点 并列）",
    },
    "nudge_columns": {
        "en": "node|value|{out} at node+h|{out} at node−h|slope|backprop ∂{out}/∂node",
        "zh": "节点|值|节点+h 时的 {out}|节点−h 时的 {out}|斜率|反向传播 ∂{out}/∂节点",
    },
    "nudge_line": {
        "en": "nudging {node} up by {h}: {out} goes {base} → {up}",
        "zh": "把 {node} 增加 {h}：{out} 从 {base} 变为 {up}",
    },
    "nudge_unknown": {
        "en": "--nudge {name}: no node of that name; the nodes are {nodes}",
        "zh": "--nudge {name}：没有这个名字的节点；节点有 {nodes}",
    },
    "nudge_more": {
        "en": "      … {more:,} more elements of {node}",
        "zh": "      … {node} 还有 {more:,} 个元素",
    },
    # ----- forward mode, paths, the numerical check -----
    "fm_head": {
        "en": "forward mode (tangents ∂·/∂{b}, inputs first, each node after its inputs; "
        "tangent = Σ local × the input's tangent)",
        "zh": "前向模式（切向量 ∂·/∂{b}，先输入，每个节点在其输入之后；切向量 = Σ 局部导数 × 输入的切向量）",
    },
    "fm_seed": {"en": " (the seed)", "zh": "（种子）"},
    "fm_check": {
        "en": "∂{root}/∂{b} = {fm} by forward mode; {bp} by backpropagation ({verdict})",
        "zh": "∂{root}/∂{b} = {fm}（前向模式）；{bp}（反向传播）（{verdict}）",
    },
    "equal": {"en": "equal", "zh": "相等"},
    "different": {"en": "DIFFERENT", "zh": "不相等"},
    "fm_cost": {
        "en": "cost of the whole gradient ({n:,} input number{s}, 1 output):\n"
        "  forward mode: one pass per input number: {n:,} pass{es}, {total:,} local products "
        "({each})\n"
        "  reverse mode: one pass per output: 1 backward pass, {reverse:,} local products (one "
        "per edge)\n"
        "  many inputs and one output (a loss): reverse mode is cheaper; one input and many "
        "outputs: forward mode",
        "zh": "整个梯度的代价（{n:,} 个输入数，1 个输出）：\n"
        "  前向模式：每个输入数一遍：{n:,} 遍，{total:,} 次局部导数乘法（{each}）\n"
        "  反向模式：每个输出一遍：1 遍反向传播，{reverse:,} 次局部导数乘法（每条边一次）\n"
        "  输入多、输出一个（损失）：反向模式更省；输入一个、输出多：前向模式更省",
    },
    "paths_head": {
        "en": "paths from {root} to each input (product of the local derivatives on the path)",
        "zh": "从 {root} 到每个输入的路径（链式法则：路径上局部导数之积）",
    },
    "paths_more": {
        "en": "      … {more:,} more paths: {all:,} in all",
        "zh": "      … 另有 {more:,} 条路径：共 {all:,} 条",
    },
    "paths_sum": {
        "en": "sum of path products {sums} = {total}",
        "zh": "路径乘积之和 {sums} = {total}",
    },
    "paths_sum_many": {
        "en": "sum of the {n:,} path products = {total}",
        "zh": "{n:,} 条路径乘积之和 = {total}",
    },
    "paths_one": {"en": "one path", "zh": "一条路径"},
    "paths_check": {
        "en": "      {what};  backpropagated {bp}  ({verdict})",
        "zh": "      {what}；反向传播 {bp}  （{verdict}）",
    },
    "paths_mults": {
        "en": "multiplications: {paths:,} along the paths, {bp:,} by backpropagation (upstream × "
        "local, once per edge below the output)",
        "zh": "乘法：沿路径 {paths:,} 次，反向传播 {bp:,} 次（上游梯度 × 局部导数，输出以下每条边一次）",
    },
    "paths_adds": {
        "en": "additions: {paths:,} adding up path products, {bp:,} by backpropagation (where "
        "contributions meet)",
        "zh": "加法：累加路径乘积 {paths:,} 次，反向传播 {bp:,} 次（贡献汇合处）",
    },
    "num_head_central": {
        "en": "numerical check: central differences (f(x+h) − f(x−h)) / 2h, h = {h}",
        "zh": "数值检验：中心差分 (f(x+h) − f(x−h)) / 2h，h = {h}",
    },
    "num_head_one_sided": {
        "en": "numerical check: one-sided differences (f(x+h) − f(x)) / h, h = {h}",
        "zh": "数值检验：单侧差分 (f(x+h) − f(x)) / h，h = {h}",
    },
    "num_columns": {
        "en": "input|backprop|difference",
        "zh": "输入|反向传播|差",
    },
    "num_flag": {"en": "← see the note below", "zh": "← 见下面的注意"},
    "num_cost": {
        "en": "evaluations of f: {n:,} ({per} per input element, besides f(x) = {base}); "
        "backpropagation: one forward and one backward pass over the {nodes} nodes for all of them",
        "zh": "f 的求值次数：{n:,}（每个输入元素 {per} 次，另有 f(x) = {base}）；反向传播：对 {nodes} "
        "个节点做一遍前向传播和一遍反向传播，得到全部梯度",
    },
    "note": {"en": "note: ", "zh": "注意："},
}


from chainrule.explain.i18n_page import WORDS  # noqa: E402 (the page's and pictures' words)

CATALOGUE.update(WORDS)


def tr(key: str, lang: str = "en", **values) -> str:
    """The message ``key`` in ``lang`` (English where the catalogue has no Chinese), filled in."""
    entry = CATALOGUE[key]
    text = entry.get(lang) or entry["en"]
    return text.format(**values) if values else text


def plural(n: int, lang: str = "en") -> str:
    """The "s" of an English plural; nothing in Chinese."""
    return "s" if lang == "en" and n != 1 else ""


def width(text: str) -> int:
    """Columns ``text`` takes in a terminal: 2 for each wide character (误差), 1 for the rest."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text: str, columns: int) -> str:
    """``text`` padded with spaces to ``columns`` terminal columns (``str.ljust`` by width)."""
    return text + " " * max(0, columns - width(text))


# ----- the help of ``chainrule explain --lang zh --help`` -----
HELP_DESCRIPTION_ZH = (
    "看反向传播如何进行：前向传播，chainrule 引擎实际执行的反向传播（每个节点的上游梯度、局部导数和"
    "贡献），以及每个输入的梯度。"
)

HELP_EXAMPLES_ZH = """\
示例：
  chainrule explain "(a+b)*(b+1)" --at a=2,b=1 --paths --lang zh
  chainrule explain "c = a+b; d = b+1; e = c*d" --at a=2 b=1 --lang zh
  chainrule explain "c = a＋b；d = b＋1；e = c×d" --at a=2，b=1 --lang zh   （全角标点也可以）
  chainrule explain "误差 = (输入*权重 - 目标)**2" --at 输入=2 权重=0.5 目标=0.8 \\
      --learn 权重 --lr 0.05 --steps 20 --lang zh   （梯度下降，逐步显示）
  chainrule explain "sum(σ(W @ x + b))" --at "W=[[0.1,0.2],[0.3,0.4]]" x=[1,2] b=0.5 --lang zh
  chainrule explain "u = b*c; v = a + u; J = 3*v" --at a=5 b=3 c=2 --nudge u --h 0.001 --lang zh

表达式可以是用 ';'（或 '；'）分隔的语句 名字 = 表达式（最后一条语句是输出；先使用后赋值的名字是输入），
可以使用 + - * / ** @（以及一元 -）、.T、数字、--at 给出的名字（数、向量 [1,2]、矩阵 [[1,2],[3,4]]，
或用 --seed 填充的形状 W:30x784）和函数
exp sin cos abs log sqrt tanh sigmoid relu sum max dot mean min softmax log_softmax mse
cross_entropy softplus silu gelu leaky_relu。输出中的符号 × − σ ² ᵀ 和全角标点 ；，（） 也可以输入；
名字可以是中文（误差、权重）。表达式只被解析，从不被执行。
"""

HELP_ZH = {
    "expression": '表达式，例如 "(a+b)*(b+1)"，或语句 "c = a+b; d = b+1; e = c*d"',
    "at": "输入的值：数、向量或矩阵，例如 a=2 b=1、a=2,b=1、w=[2,-3,-3]、W=[[1,2],[3,4]]，"
    "或形状 W:30x784（用 --seed 填充）（可重复）",
    "paths": "列出每条路径及其局部导数之积（链式法则的路径求和形式）",
    "numerical": "加上中心差分的数值梯度估计（数值检验）",
    "h": "--numerical 和 --nudge 的扰动 h（默认 1e-6；教材用 0.001）",
    "one_sided": "--numerical 用 (f(x+h) - f(x)) / h：每个输入只需一次求值",
    "forward": "同时运行以输入 NAME 为种子的前向模式（向量元素写作 w[0]）：每个节点的切向量，"
    "与反向传播对照，以及两种模式的代价",
    "json": "输出一个 JSON 对象而不是文字",
    "html": "写出一个自包含的网页，逐个节点演示前向传播和反向传播",
    "svg": "画出带有值和梯度的计算图（SVG）",
    "png": "画出带有值和梯度的计算图（PNG）；与 --learn 一起时画学习曲线",
    "rankdir": "图的方向：LR 从左到右（默认）、TB 从上到下、RL、BT",
    "seed": "以形状给出的输入（W:30x784）用标准正态随机数填充，这是随机种子，也是 --model 初始化的种子（默认 0）",
    "order": "反向传播的顺序：引擎的顺序（默认）或语句的顺序（从最后一条语句开始，每一步写在它所属的语句下）",
    "nudge": "把节点 NAME（输入或中间节点，例如 u）扰动 +h 和 -h（--h），显示输出的变化，并与反向传播的导数对照（可重复）",
    "learn": "对输入 NAME 做梯度下降：--steps 次更新 NAME ← NAME − 学习率 × ∂输出/∂NAME，每步显示梯度、更新、新值和新的输出",
    "lr": "--learn 的学习率 α",
    "steps": "--learn 的更新次数",
    "plot": "与 --learn 一起：画出输出对 NAME 的曲线，并标出每一步（.png、.svg）",
    "lang": "报告的语言：en（英文，默认）或 zh（中文）",
    "help": "显示帮助并退出",
}
