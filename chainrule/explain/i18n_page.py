"""The words of the page (``--html``) and of the pictures (``--png``/``--svg``, ``cr.viz.draw``),
in English and in Chinese; merged into ``i18n.CATALOGUE`` (same keys' form, same ``tr``).

The Chinese keeps the texts' terms, as the ledger's does: 前向传播, 反向传播, 局部导数, 上游梯度,
贡献, 累加, 梯度, 前向模式 (forward mode), 切向量 (tangent).
"""

from __future__ import annotations

WORDS: dict[str, dict[str, str]] = {
    # ----- the pictures (chainrule.viz.draw) -----
    "pic_value": {"en": "forward value", "zh": "前向传播的值"},
    "pic_local": {"en": "local derivative", "zh": "局部导数"},
    "pic_sent": {
        "en": "gradient of {of} sent back = upstream × local",
        "zh": "传回的{of}梯度 = 上游梯度 × 局部导数",
    },
    "pic_of_sum": {"en": "sum of the output", "zh": "输出之和的"},
    "pic_of_output": {"en": "the output", "zh": "输出的"},
    "pic_no_grads": {
        "en": "no gradients: the tensor does not require grad",
        "zh": "没有梯度：该张量不需要梯度（requires_grad 为 False）",
    },
    "pic_grad": {"en": "grad", "zh": "梯度"},
    "pic_sum_grad": {"en": "Σ grad", "zh": "Σ 梯度"},
    "pic_constant": {"en": "constant", "zh": "常数"},
    "pic_seed": {"en": "seed", "zh": "种子"},
    "pic_output": {"en": "output", "zh": "输出"},
    "pic_local_word": {"en": "local", "zh": "局部导数"},
    # The operands of the ops whose inputs cannot be swapped (viz.labels.ROLES).
    "role_first": {"en": "first", "zh": "被减数"},
    "role_subtracted": {"en": "subtracted", "zh": "减数"},
    "role_numerator": {"en": "numerator", "zh": "分子"},
    "role_denominator": {"en": "denominator", "zh": "分母"},
    "role_base": {"en": "base", "zh": "底数"},
    "role_exponent": {"en": "exponent", "zh": "指数"},
    "role_left": {"en": "left", "zh": "左"},
    "role_right": {"en": "right", "zh": "右"},
    # ----- the page: its legend, buttons and caption -----
    "pg_value": {"en": "value", "zh": "值"},
    "pg_tangent": {"en": "tangent", "zh": "切向量（前向模式）"},
    "pg_local": {"en": "local derivative", "zh": "局部导数"},
    "pg_sent": {
        "en": "gradient sent back = upstream × local",
        "zh": "传回的梯度 = 上游梯度 × 局部导数",
    },
    "pg_arrows": {
        "en": "(red arrows point the way gradients travel)",
        "zh": "（红色箭头指向梯度传递的方向）",
    },
    "pg_sum": {"en": "running sum", "zh": "累加"},
    "pg_first": {"en": "first", "zh": "第一步"},
    "pg_first_tip": {"en": "first step (Home)", "zh": "第一步（Home）"},
    "pg_back": {"en": "◀ back", "zh": "◀ 上一步"},
    "pg_back_tip": {"en": "previous step (←)", "zh": "上一步（←）"},
    "pg_next": {"en": "next ▶", "zh": "下一步 ▶"},
    "pg_next_tip": {"en": "next step (→)", "zh": "下一步（→）"},
    "pg_last": {"en": "last", "zh": "最后一步"},
    "pg_last_tip": {"en": "last step (End)", "zh": "最后一步（End）"},
    "pg_zoom_out": {"en": "zoom out (-)", "zh": "缩小（-）"},
    "pg_zoom_reset": {"en": "actual size (0)", "zh": "实际大小（0）"},
    "pg_zoom_in": {"en": "zoom in (+)", "zh": "放大（+）"},
    "pg_fit": {"en": "fit", "zh": "适应窗口"},
    "pg_fit_tip": {"en": "fit the whole graph", "zh": "显示整个计算图"},
    "pg_open": {"en": "open boxes", "zh": "展开所有模块"},
    "pg_open_tip": {"en": "open every module box", "zh": "展开每个模块框"},
    "pg_close": {"en": "collapse boxes", "zh": "折叠所有模块"},
    "pg_close_tip": {"en": "collapse every module box", "zh": "折叠每个模块框"},
    "pg_caption": {
        "en": "step {n} of {total} · {phase}",
        "zh": "第 {n} 步，共 {total} 步 · {phase}",
    },
    "pg_phase_forward": {"en": "forward", "zh": "前向传播"},
    "pg_phase_tangent": {"en": "tangent", "zh": "前向模式"},
    "pg_phase_backward": {"en": "backward", "zh": "反向传播"},
    "pg_phase_learn": {"en": "learning", "zh": "学习"},
    # ----- the page: learning (--learn ... --html) -----
    "pg_learn_title": {
        "en": "update {k} of {n}: {name} ← {v}",
        "zh": "第 {k} 次更新（共 {n} 次）：{name} ← {v}",
    },
    "pg_learn_rule": {
        "en": "{name} ← {name} − α·{d}, learning rate α = {lr}",
        "zh": "{name} ← {name} − α·{d}，学习率 α = {lr}",
    },
    "pg_learn_gradient": {
        "en": "gradient {d} = {v} (chainrule's backward pass at these values)",
        "zh": "梯度 {d} = {v}（chainrule 在这些值处的反向传播）",
    },
    "pg_learn_update": {"en": "update −α·gradient = {v}", "zh": "更新 −α·梯度 = {v}"},
    "pg_learn_new": {"en": "new {name} = {v}", "zh": "新的 {name} = {v}"},
    "pg_cover": {"en": "{n} nodes: click to open", "zh": "{n} 个节点：点击展开"},
    "pg_graph": {"en": "the graph", "zh": "计算图"},
    # ----- the page: step titles and the panel's lines -----
    "pg_fw_input": {"en": "forward pass: input {me}", "zh": "前向传播：输入 {me}"},
    "pg_fw_node": {"en": "forward pass: {me} = {formula}", "zh": "前向传播：{me} = {formula}"},
    "pg_fm_seed": {"en": "forward mode: seed ∂{b}/∂{b} = 1", "zh": "前向模式：种子 ∂{b}/∂{b} = 1"},
    "pg_fm_seed_line": {
        "en": "∂{b}/∂{b} = 1 (the seed); every other input's tangent is 0",
        "zh": "∂{b}/∂{b} = 1（种子）；其他每个输入的切向量为 0",
    },
    "pg_fm_node": {"en": "forward mode: ∂{me}/∂{b}", "zh": "前向模式：∂{me}/∂{b}"},
    "pg_fm_result": {"en": "forward mode: {d} = {v}", "zh": "前向模式：{d} = {v}"},
    "pg_fm_by": {"en": "{d} = {v} by forward mode", "zh": "{d} = {v}（前向模式）"},
    "pg_fm_only": {
        "en": "one forward-mode pass gives the derivative with respect to {b} only; the backward "
        "pass below gives all {n} at once",
        "zh": "一遍前向模式只给出对 {b} 的导数；下面的反向传播一次给出全部 {n} 个",
    },
    "pg_fm_will": {"en": "backpropagation will give {v}", "zh": "反向传播将给出 {v}"},
    "pg_fm_gave": {"en": "forward mode gave {d} = {v}", "zh": "前向模式给出 {d} = {v}"},
    "pg_bw_seed": {
        "en": "backward pass: the seed ∂{r}/∂{r} = 1",
        "zh": "反向传播：种子 ∂{r}/∂{r} = 1",
    },
    "pg_bw_starts": {
        "en": "the backward pass starts at {r} with ∂{r}/∂{r} = 1",
        "zh": "反向传播从 {r} 开始，∂{r}/∂{r} = 1",
    },
    "pg_bw_node": {
        "en": "backward pass: {me} sends its gradient back",
        "zh": "反向传播：{me} 把梯度传回",
    },
    "pg_upstream": {"en": "{me} {op}: upstream {d} = {v}", "zh": "{me} {op}：上游梯度 {d} = {v}"},
    "pg_so_far": {"en": "{head} so far {v}", "zh": "{head} 目前为 {v}"},
    "pg_gradient": {"en": "the gradient", "zh": "梯度"},
    "pg_no_grad": {"en": "(a constant: no gradient)", "zh": "（常数：没有梯度）"},
    "pg_contribution": {"en": "contribution", "zh": "贡献"},
    "pg_local_word": {"en": "local", "zh": "局部导数"},
}
