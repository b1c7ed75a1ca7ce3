"""One side of a stage dispute: what an honest node answers, from its own run of the stage.

``contracts/dispute/StageDispute.sol`` judges a claimed stage by bisection (docs/disputes.md).
Every answer a side gives comes from its own computation of the stage (``trace_stage``): the
state root after k batches, the roots of one batch's operations in the program's order
(``op_names``, the order of ``MlpProgram.sol``), the children of a node of one operation's
Merkle tree, a leaf's 256 values, a reduction's partial sums, and the operands the one-step check
opens (``operand_refs``: the index rules of ``MlpStepRules.sol``, written once more here, so a
test compares the two on every operation).

The game judges MLP stages trained by SGD: Linear layers with a ReLU between each two,
cross-entropy, SGD with or without momentum (``program`` refuses anything else, naming it).
Pure: no web3.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from zkpot.pot import merkle
from zkpot.pot.trace import trace_stage
from zkpot.spec import MAX_CLASSES, MAX_PARAMS, SGD, Linear, ModelSpec, ReLU

TERMS = 16                       # terms of a reduction judged in one step (MlpStepRules.TERMS)
ONE = 2**24
ACT_MAX = 2**26
MAX_BATCH = 4096                 # FixedPointStep.softmaxGradient's batch bound
MAX_LINEAR, MAX_WIDTH = 32, 4096  # MlpProgram.check's bounds (with the spec's MAX_CLASSES, MAX_PARAMS)
MAX_MU_Q = 16760439              # round(0.999 * 2^24)
CHECKPOINT = 8                   # a side keeps the state after every 8th batch, the others on demand


class UnsupportedStage(ValueError):
    """The stage is outside what the dispute game judges (the message names why)."""


@dataclass(frozen=True)
class Program:
    """``MlpProgram.Program``: the stage's shape as the contract reads it."""

    dims: tuple[int, ...]
    batch_size: int
    samples: int
    lr_q: int
    mu_q: int

    def abi(self) -> tuple:
        return (list(self.dims), self.batch_size, self.samples, self.lr_q, self.mu_q)

    @property
    def layers(self) -> int:
        return len(self.dims) - 1

    @property
    def momentum(self) -> int:
        return 1 if self.mu_q > 0 else 0

    @property
    def classes(self) -> int:
        return self.dims[-1]

    def weight_at(self, l: int) -> int:
        return sum(self.dims[i + 1] * (self.dims[i] + 1) for i in range(l))

    def bias_at(self, l: int) -> int:
        return self.weight_at(l) + self.dims[l] * self.dims[l + 1]

    @property
    def params(self) -> int:
        return self.weight_at(self.layers)

    @property
    def state_length(self) -> int:
        return self.params * (1 + self.momentum) + 1

    def batches(self) -> list[tuple[int, int]]:
        """(first row, samples) of each batch: the stage's batch rule (``zkpot.stage.batches``)."""
        from zkpot.stage import batches
        return [(a, b - a) for a, b in batches(self.samples, self.batch_size)]

    # ---- the operations of a batch, as MlpProgram orders them
    @cached_property
    def ops(self) -> tuple[tuple[str, int, str], ...]:
        """(kind, layer, trace name) of each operation, in the game's order."""
        out: list[tuple[str, int, str]] = []
        for l in range(self.layers):
            out.append(("FwdLinear", l, f"fwd.{2 * l}"))
            if l + 1 < self.layers:
                out.append(("FwdRelu", l, f"fwd.{2 * l + 1}"))
        out += [("LossMax", 0, "loss.max"), ("LossExp", 0, "loss.exp"), ("LossSum", 0, "loss.sum"),
                ("LossGrad", 0, "loss.grad")]
        for l in range(self.layers - 1, -1, -1):
            out += [("WeightGrad", l, f"grad.{2 * l}"), ("Param", l, f"step.{2 * l}.param")]
            if self.momentum:
                out.append(("Momentum", l, f"step.{2 * l}.momentum"))
            if l > 0:
                out += [("BwdLinear", l, f"bwd.{2 * l}"), ("BwdRelu", l - 1, f"bwd.{2 * l - 1}")]
        out.append(("State", 0, "state"))
        return tuple(out)

    def index(self, kind: str, l: int = 0) -> int:
        return next(i for i, (k, layer, _) in enumerate(self.ops) if k == kind and layer == l)

    def upstream(self, l: int) -> int:
        """The gradient flowing into Linear l's output: the loss's, or its ReLU's."""
        return self.index("LossGrad") if l + 1 == self.layers else self.index("BwdRelu", l)

    def length(self, b: int, t: int) -> int:
        kind, l, _ = self.ops[t]
        if kind in ("FwdLinear", "FwdRelu", "BwdRelu"):
            return b * self.dims[l + 1]
        if kind in ("LossMax", "LossSum"):
            return b
        if kind in ("LossExp", "LossGrad"):
            return b * self.classes
        if kind in ("WeightGrad", "Param", "Momentum"):
            return self.dims[l + 1] * (self.dims[l] + 1)
        if kind == "BwdLinear":
            return b * self.dims[l]
        return self.state_length

    def reduction(self, b: int, t: int) -> tuple[int, int]:
        """(terms, start) of every element of operation t; terms 0: made in one step."""
        kind, l, _ = self.ops[t]
        if kind == "FwdLinear":
            return self.dims[l], 0
        if kind == "LossMax":
            return self.classes, -ACT_MAX
        if kind == "LossSum":
            return self.classes, 0
        if kind == "WeightGrad":
            return b, 0
        if kind == "BwdLinear":
            return self.dims[l + 1], 0
        return 0, 0

    def rounds_bound(self, t: int, b: int) -> int:
        """The bound on moves per side of a game that ends in operation t of a batch of b:
        ceil(log2 batches) + ceil(log2 operations) + ceil(log2 elements of t) + 2."""
        lg = lambda n: (n - 1).bit_length()      # noqa: E731  (ceil(log2 n), 0 for n = 1)
        return lg(len(self.batches())) + lg(len(self.ops)) + lg(self.length(b, t)) + 2

    def steps(self, b: int, t: int) -> int:
        """The points of a reduction's bisection minus one: ceil(terms / 16) + 1 (0: none)."""
        terms, _ = self.reduction(b, t)
        return 0 if terms == 0 else -(-terms // TERMS) + 1


def program(spec: ModelSpec, samples: int) -> Program:
    """The game's program of a stage of ``spec`` over ``samples`` samples, or
    ``UnsupportedStage`` naming what the game cannot judge."""
    layers = spec.layers
    for i, layer in enumerate(layers):
        want = Linear if i % 2 == 0 else ReLU
        if not isinstance(layer, want):
            raise UnsupportedStage(f"layer {i}: the dispute game judges Linear layers with a ReLU between each "
                                   f"two, got {type(layer).__name__} (Conv2d, MaxPool2d, Flatten and Dropout "
                                   f"are not judged on-chain yet)")
    if not isinstance(layers[-1], Linear):
        raise UnsupportedStage("the last layer must be a Linear (the logits)")
    opt = spec.optimizer
    if not isinstance(opt, SGD):
        raise UnsupportedStage("the dispute game judges SGD only: Adam's per-step scalars are not on-chain yet")
    if opt.momentum > 0 and round(opt.momentum * ONE) == 0:
        raise UnsupportedStage(f"momentum {opt.momentum} rounds to 0 in Q24 but the stage keeps a momentum buffer: "
                               "the game cannot judge it")
    dims = (layers[0].in_features,) + tuple(layer.out_features for layer in layers[::2])
    p = Program(dims, spec.batch_size, int(samples), round(opt.lr * ONE), round(opt.momentum * ONE))
    _check(p)
    return p


def _check(p: Program) -> None:
    """``MlpProgram.check``'s ranges, so no program is made that the contract would refuse."""
    refusals = [
        (not 1 <= p.layers <= MAX_LINEAR, f"{p.layers} Linear layers: the game judges 1..{MAX_LINEAR}"),
        (not all(1 <= d <= MAX_WIDTH for d in p.dims), f"widths {p.dims}: each must be in 1..{MAX_WIDTH}"),
        (not 2 <= p.classes <= MAX_CLASSES, f"{p.classes} classes: the spec allows 2..{MAX_CLASSES}"),
        (p.params > MAX_PARAMS, f"{p.params} parameters: the spec allows at most {MAX_PARAMS}"),
        (not 2 <= p.batch_size <= MAX_BATCH, f"batch size {p.batch_size}: the game judges 2..{MAX_BATCH}"),
        (p.samples < 2, f"{p.samples} samples: a stage needs at least 2"),
        (not 1 <= p.lr_q <= ONE, f"lr {p.lr_q}/2^24: the game judges 1..2^24"),
        (not 0 <= p.mu_q <= MAX_MU_Q, f"momentum {p.mu_q}/2^24: the game judges 0..{MAX_MU_Q}"),
    ]
    for refused, reason in refusals:
        if refused:
            raise UnsupportedStage(reason)
    if p.batches()[-1][1] > MAX_BATCH:
        raise UnsupportedStage(f"the last batch has {p.batches()[-1][1]} samples (a trailing sample joins it): "
                               f"the game judges batches of at most {MAX_BATCH}")


# ---- the index rules: which committed values the one step reads (MlpStepRules.evaluate)

Ref = tuple[object, int]          # (tensor: "data" | "labels" | "state" | "table" | op index, element)


def operand_refs(p: Program, row0: int, b: int, t: int, e: int, step: int) -> list[Ref]:
    """The operands ``MlpStepRules.evaluate`` opens for element e of operation t (for a
    reduction: at ``step``), in its order."""
    kind, l, _ = p.ops[t]
    terms, _ = p.reduction(b, t)
    if terms:
        full = -(-terms // TERMS)
        if step == full:
            return [("state", p.bias_at(l) + e % p.dims[l + 1])] if kind == "FwdLinear" else []
        return [ref for k in range(step * TERMS, min(step * TERMS + TERMS, terms))
                for ref in _term_refs(p, row0, kind, l, e, k)]
    return _element_refs(p, row0, kind, l, e)


def _input(p: Program, row0: int, l: int, r: int, k: int) -> Ref:
    return ("data", (row0 + r) * p.dims[0] + k) if l == 0 else (p.index("FwdRelu", l - 1), r * p.dims[l] + k)


def _term_refs(p: Program, row0: int, kind: str, l: int, e: int, k: int) -> list[Ref]:
    c = p.classes
    if kind == "FwdLinear":
        i, o = p.dims[l], p.dims[l + 1]
        return [_input(p, row0, l, e // o, k), ("state", p.weight_at(l) + (e % o) * i + k)]
    if kind == "LossMax":
        return [(p.index("FwdLinear", p.layers - 1), e * c + k)]
    if kind == "LossSum":
        return [(p.index("LossExp"), e * c + k)]
    i, o = p.dims[l], p.dims[l + 1]
    if kind == "WeightGrad":
        if e >= i * o:
            return [(p.upstream(l), k * o + e - i * o)]
        return [(p.upstream(l), k * o + e // i), _input(p, row0, l, k, e % i)]
    return [(p.upstream(l), (e // i) * o + k), ("state", p.weight_at(l) + k * i + e % i)]     # BwdLinear


def _element_refs(p: Program, row0: int, kind: str, l: int, e: int) -> list[Ref]:
    c = p.classes
    if kind == "FwdRelu":
        return [(p.index("FwdLinear", l), e)]
    if kind == "LossExp":
        return [(p.index("LossMax"), e // c), (p.index("FwdLinear", p.layers - 1), e), ("table", "exp_hi"),
                ("table", "exp_lo")]
    if kind == "LossGrad":
        return [(p.index("LossExp"), e), (p.index("LossSum"), e // c), ("labels", row0 + e // c)]
    if kind in ("Param", "Momentum"):
        at = p.weight_at(l) + e
        refs = [("state", at), (p.index("WeightGrad", l), e)]
        return refs + ([("state", p.params + at)] if p.momentum else [])
    if kind == "BwdRelu":
        return [(p.index("BwdLinear", l + 1), e), (p.index("FwdRelu", l), e)]
    n = p.params                                                            # State
    if e + 1 == p.state_length:
        return [("state", e)]
    local = e - n if e >= n else e
    layer = max(i for i in range(p.layers) if p.weight_at(i) <= local)
    return [(p.index("Momentum" if e >= n else "Param", layer), local - p.weight_at(layer))]


def _exp_table_indices(d: int) -> tuple[int, int]:
    u = min(max(d, 0), 2**20 - 1)
    return u >> 10, 1024 + (u & 1023)


def fold(p: Program, t: int, e: int, start: int, values: list[int]) -> int:
    """Element e's reduction after the operand values ``values`` (in ``operand_refs`` order:
    pairs multiplied for a product), from ``start``."""
    kind, l, _ = p.ops[t]
    if kind == "LossMax":
        return max([start] + values)
    if kind == "LossSum" or (kind == "WeightGrad" and e >= p.dims[l] * p.dims[l + 1]):
        return start + sum(values)
    return start + sum(a * b for a, b in zip(values[::2], values[1::2], strict=True))


def state_from_vector(spec: ModelSpec, vector: np.ndarray):
    """The state a state vector (``trace.state_vector``) holds."""
    from zkpot.pot.layout import layout_for
    from zkpot.pot.state import TrainingState
    layout = layout_for(spec)
    v = np.asarray(vector, dtype=np.int64)
    params = {s.name: v[s.start:s.stop].reshape(s.shape) for s in layout.slots}
    buffers = {f"opt.{s.name}.{b}": v[(i + 1) * layout.size + s.start:(i + 1) * layout.size + s.stop].reshape(s.shape)
               for i, b in enumerate(layout.buffers) for s in layout.slots}
    return TrainingState(params, buffers, int(v[-1]))


@lru_cache(maxsize=1)
def table_tree() -> merkle.TensorTree:
    from zkpot.pot import fixedpoint as fp
    hi, lo, ln, _ = fp.tables()
    return merkle.tree(np.concatenate([hi, lo, ln]))


class Side:
    """One party's own computation of a stage, and its answers in a game about it."""

    def __init__(self, spec: ModelSpec, state, chunk, stage_index: int, seed: int | None = None):
        from zkpot import stage as st
        self.spec, self.state, self.chunk, self.stage_index, self.seed = spec, state, chunk, stage_index, seed
        x, y = st._check_chunk(spec, chunk)
        self.x, self.y = x, y
        self.program = program(spec, len(y))
        self.data = merkle.tree(st.quantize_inputs(x).astype(np.int64).reshape(-1))
        self.labels = merkle.tree(np.asarray(y, dtype=np.int64))
        batches = len(self.program.batches())
        self.run = trace_stage(spec, state, chunk, stage_index, seed, roots_at=[],
                               keep_states={*range(0, batches, CHECKPOINT), batches})
        self._states = self.run.states       # the kept vectors; the others join them when made
        self._batches: dict[int, list[merkle.TensorTree]] = {}
        self._state_trees: dict[int, merkle.TensorTree] = {}
        self._partials: dict[tuple[int, int, int], list[int]] = {}

    # ---- what a claim names
    @property
    def batches(self) -> int:
        return self.run.batches

    def state_root(self, k: int) -> bytes:
        return self.state_tree(k).root       # the tree once: the batch's step and openings reuse it

    def state_tree(self, k: int) -> merkle.TensorTree:
        if k not in self._state_trees:
            self._state_trees[k] = merkle.tree(self.state_vector(k))
        return self._state_trees[k]

    def state_vector(self, k: int) -> np.ndarray:
        """The state vector after k batches: kept every ``CHECKPOINT`` batches, the others made
        when first asked for by re-running the batches from the checkpoint before them (a
        bisection asks for ceil(log2 batches) + 2 states; they fall in one such segment once it
        narrows below ``CHECKPOINT`` batches), all of that segment's kept at once."""
        if k not in self._states:
            first = k - k % CHECKPOINT
            bounds = self.program.batches()[first:first + CHECKPOINT]
            rows = slice(bounds[0][0], bounds[-1][0] + bounds[-1][1])
            segment = trace_stage(self.spec, state_from_vector(self.spec, self._states[first]),
                                  (self.x[rows], self.y[rows]), self.stage_index, self.seed, roots_at=[],
                                  keep_states=True)
            for i, v in segment.states.items():
                # the segment ends at the next kept state: the same computation must reach it
                if first + i in self._states and not np.array_equal(self._states[first + i], v):
                    raise AssertionError(f"batches {first}.. re-run from their checkpoint differ from the stage")
                self._states[first + i] = v
        return self._states[k]

    def end_root(self) -> bytes:
        return self.state_root(self.batches)

    # ---- one batch
    def tensors(self, j: int) -> list[merkle.TensorTree]:
        """The trees of batch j's operations, in the game's order."""
        if j not in self._batches:
            # batch j alone, from the state before it: the same computation as inside the stage
            # (an MLP trained by SGD reads nothing else), one batch's work instead of j + 1
            row0, b = self.program.batches()[j]
            rows = slice(row0, row0 + b)
            detail = trace_stage(self.spec, state_from_vector(self.spec, self.state_vector(j)),
                                 (self.x[rows], self.y[rows]), self.stage_index, self.seed, roots_at=[1], detail=0)
            if detail.state_roots[1] != self.state_root(j + 1):
                raise AssertionError(f"batch {j} traced alone differs from the stage")
            trees = [self.state_tree(j + 1) if name == "state" else detail.op(name).tree
                     for _, _, name in self.program.ops]
            self._batches[j] = trees
        return self._batches[j]

    def op_roots(self, j: int) -> list[bytes]:
        return [t.root for t in self.tensors(j)]

    def _op_tree(self, j: int, t: int) -> merkle.TensorTree:
        """Operation t's tree of batch j; ``IndexError`` for a batch or an operation that is not
        there (never Python's counting from the end)."""
        _within("batch", j, self.batches)
        _within("operation", t, len(self.program.ops))
        return self.tensors(j)[t]

    def children(self, j: int, t: int, height: int, index: int) -> tuple[bytes, bytes]:
        """The two children of node ``index`` at ``height`` (leaves: 0) of operation t's tree."""
        levels = self._op_tree(j, t).levels
        _within("height", height, len(levels), first=1)
        _within("node", index, len(levels[height]))
        level = levels[height - 1]
        pick = lambda i: level[i] if i < len(level) else merkle.EMPTY      # noqa: E731
        return pick(2 * index), pick(2 * index + 1)

    def leaf(self, j: int, t: int, index: int) -> bytes:
        tree = self._op_tree(j, t)
        _within("leaf", index, len(tree.levels[0]))
        return tree.chunk(index * merkle.LEAF_SIZE)

    def value(self, j: int, t: int, e: int) -> int:
        tree = self._op_tree(j, t)
        _within("element", e, tree.n)
        return int(tree.values[e])

    # ---- reductions and the one step
    def _tree(self, j: int, ref) -> merkle.TensorTree:
        name = ref[0]
        if name == "data":
            return self.data
        if name == "labels":
            return self.labels
        if name == "state":
            return self.state_tree(j)
        if name == "table":
            return table_tree()
        return self.tensors(j)[name]

    def _value(self, j: int, ref) -> int:
        """A committed value, without building its tree (the state before batch j: its vector)."""
        if ref[0] == "state":
            return int(self.state_vector(j)[ref[1]])
        return int(self._tree(j, ref).values[ref[1]])

    def _resolve_table(self, j: int, t: int, e: int, refs: list) -> list:
        """The exp tables' entries for element e of the loss's exp: their index follows from
        max - z (computed on-chain the same way)."""
        if not any(r[0] == "table" for r in refs):
            return refs
        d = self.value(j, refs[0][0], refs[0][1]) - self.value(j, refs[1][0], refs[1][1])
        hi, lo = _exp_table_indices(d)
        return refs[:2] + [("table", hi), ("table", lo)]

    def refs(self, j: int, t: int, e: int, step: int) -> list:
        row0, b = self.program.batches()[j]
        return self._resolve_table(j, t, e, operand_refs(self.program, row0, b, t, e, step))

    def operands(self, j: int, t: int, e: int, step: int) -> list[tuple]:
        """The openings the one-step check reads, in its order: (index, chunk, proof)."""
        out = []
        for ref in self.refs(j, t, e, step):
            tree = self._tree(j, ref)
            out.append((ref[1], tree.chunk(ref[1]), tree.proof(ref[1])))
        return out

    def partial(self, j: int, t: int, e: int, point: int) -> int:
        """The reduction's value at ``point``: its start, after each 16 terms, the finished
        sum, and (at ``steps``) the element itself."""
        p = self.program
        _within("element", e, self._op_tree(j, t).n)
        _, b = p.batches()[j]
        terms, start = p.reduction(b, t)
        full = -(-terms // TERMS)
        _within("point", point, full + 2)
        if point > full:
            return self.value(j, t, e)
        key = (j, t, e)
        if key not in self._partials:         # every point at once: each from the one before it
            points = [start]
            for step in range(full):
                points.append(fold(p, t, e, points[-1], [self._value(j, r) for r in self.refs(j, t, e, step)]))
            self._partials[key] = points
        return self._partials[key][point]


def _within(what: str, i: int, n: int, first: int = 0) -> None:
    """``IndexError`` unless first <= i < n."""
    if not first <= i < n:
        raise IndexError(f"{what} {i} is not in {first}..{n - 1}" if n > first else f"there is no {what} {i}: none exist")


class Fabricated(Side):
    """A side that fabricated one value: element e of operation t of batch j, off by ``delta``,
    and every state after batch j made up from there (so its roots differ from the honest
    ones exactly from batch j + 1 on). For an element made by a reduction the lie is in the
    element itself (its partial sums right), or, with ``partial_from``, in every partial sum
    from that point on. What the tests and the bench play as a lying defender or challenger.
    """

    def __init__(self, honest: Side, j: int, t: int, e: int, delta: int = 1, partial_from: int | None = None):
        self.__dict__.update(honest.__dict__)
        self.honest, self.j, self.t, self.e, self.delta, self.partial_from = honest, j, t, e, delta, partial_from
        self._lie: list[merkle.TensorTree] | None = None

    def _made_up_state(self, k: int) -> np.ndarray:
        v = self.honest.state_vector(k).copy()
        v[-1] += 1000 + k                        # the step count: any other value would do
        return v

    def state_root(self, k: int) -> bytes:
        if k <= self.j:
            return self.honest.state_root(k)
        if k == self.j + 1:
            return self.tensors(self.j)[-1].root
        return merkle.root(self._made_up_state(k))

    def tensors(self, j: int) -> list[merkle.TensorTree]:
        trees = self.honest.tensors(j)
        if j != self.j:
            return trees
        if self._lie is None:
            lie = list(trees)
            values = trees[self.t].values.copy()
            values[self.e] = int(values[self.e]) + self.delta       # in Python integers: an int64 extreme stays one
            lie[self.t] = merkle.tree(values)
            if self.t != len(trees) - 1:
                lie[-1] = merkle.tree(self._made_up_state(j + 1))
            self._lie = lie
        return self._lie

    def partial(self, j: int, t: int, e: int, point: int) -> int:
        value = self.honest.partial(j, t, e, point)
        element = self.program.steps(self.program.batches()[j][1], t)        # the last point
        lying = (j, t, e) == (self.j, self.t, self.e) and (
            point == element or (self.partial_from is not None and point >= self.partial_from))
        return value + self.delta if lying else value
