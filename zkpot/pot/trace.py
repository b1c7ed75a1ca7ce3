"""A stage's computation as a trace that two parties can bisect (docs/pot.md, "Trace").

Made on demand only, for a dispute: ``train_stage`` never records anything (the trainer's
``record`` callback stays None), so ordinary training pays nothing and its results are the
golden files'. ``trace_stage`` runs the very same ``Trainer`` over the same batches and commits

- the **state after k batches** (k = 0..batches) by the Merkle root of its state vector
  (``state_vector``), at the k asked for, and
- inside one batch, **every intermediate tensor** of forward, loss, backward and update, in the
  order the stage computes them (``Op``), each with its Merkle root (``zkpot.pot.merkle``);
- for one output element of an exact product, its **partial sums** (``partial_sums``), so a
  reduction of K terms is bisected down to one multiply-add.

Pure core: imports neither web3 nor the node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterable

import numpy as np
import torch

from zkpot.hashing import keccak
from zkpot.pot import fixedpoint as fp
from zkpot.pot import merkle
from zkpot.pot.layout import Layout, arena, state_to_bytes
from zkpot.pot.trainer import Trainer


def state_vector(layout: Layout, params: np.ndarray, buffers: dict[str, np.ndarray], step: int) -> np.ndarray:
    """S as one int64 vector: the flat parameters (layout order: layers by index, weight then
    bias, C order), then each optimiser buffer flat in the same order (``momentum``, or ``m``
    then ``v``), then the step count."""
    parts = [np.asarray(params)] + [np.asarray(buffers[b]) for b in layout.buffers] + [np.array([step])]
    return np.concatenate(parts, dtype=np.int64, casting="unsafe")      # one pass; the values are integers


@dataclass(frozen=True)
class Op:
    """One intermediate tensor of a batch: its name (docs/pot.md lists them), integer values."""

    name: str
    values: np.ndarray

    @cached_property
    def tree(self) -> merkle.TensorTree:
        return merkle.tree(self.values)

    @property
    def root(self) -> bytes:
        return self.tree.root


@dataclass
class StageTrace:
    """What ``trace_stage`` committed: state roots by batch count, one batch's operations."""

    batches: int
    state_roots: dict[int, bytes]
    ops: list[Op] = field(default_factory=list)
    states: dict[int, np.ndarray] = field(default_factory=dict)    # the state vectors kept (keep_states)
    final: tuple = field(default=(), repr=False)                  # (layout, params, buffers, step) at the end

    @cached_property
    def weights_hash(self) -> bytes:
        """H(S) of the stage's result, as ``train_stage`` gives it: hashed when first asked for
        (a dispute's side re-runs batches whose result it never hashes)."""
        return keccak(state_to_bytes(*self.final))

    def state_root(self, k: int) -> bytes:
        """The root of the state after k batches: computed now from a kept state vector when it
        was not asked for up front (a bisection asks for ceil(log2 batches) + 2 of them)."""
        if k not in self.state_roots:
            self.state_roots[k] = merkle.root(self.states[k])
        return self.state_roots[k]

    def op(self, name: str) -> Op:
        return next(o for o in self.ops if o.name == name)

    def op_roots(self) -> list[bytes]:
        """The roots of the detailed batch's operations, in order (what a defender posts in
        ``StageDispute.postOperations``, for the challenger to name the first it disputes)."""
        return [o.root for o in self.ops]


def _ints(t) -> np.ndarray:
    a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    return np.array(a, dtype=np.int64) if a.dtype.kind in "iu" else np.floor(a).astype(np.int64)


def _loss_ops(z, y, losses, grad) -> list[Op]:
    """The cross-entropy's intermediates, from the same functions ``fp.cross_entropy`` uses."""
    z = _ints(z)
    m = z.max(axis=1)
    e = fp.exp_neg_q30(m[:, None] - z)
    s = e.sum(axis=1)
    again = fp.rshift(fp.ln_q30(s), 14) + (m - z[np.arange(len(y)), y])
    if not np.array_equal(again, losses):     # the trace must be the stage's own computation
        raise AssertionError("traced loss differs from the stage's loss")
    return [Op("label", np.asarray(y, dtype=np.int64)), Op("loss.max", m), Op("loss.exp", e), Op("loss.sum", s),
            Op("loss.value", np.asarray(losses, dtype=np.int64)), Op("loss.grad", np.asarray(grad, dtype=np.int64))]


def trace_stage(spec, state, chunk, stage_index: int, seed: int | None = None, *,
                roots_at: Iterable[int] | None = None, detail: int | None = None,
                keep_states: bool | Iterable[int] = False) -> StageTrace:
    """Re-run a stage (as ``zkpot.stage.train_stage`` does, on the CPU) and commit its trace.

    ``roots_at``: the batch counts k (0..batches) whose state roots to compute (None: all);
    ``detail``: the batch whose operations to record (None: none); ``keep_states``: True keeps
    every state vector (8 bytes a value, batches + 1 of them) so that ``state_root(k)`` roots
    any other k on demand, or the batch counts whose vectors to keep.
    """
    from zkpot import stage as st                 # the stage's own checks and batch rule

    x, y = st._check_chunk(spec, chunk)
    seed = spec.seed if seed is None else int(seed)
    layout, params, buffers, step = st._load(spec, state)
    bounds = st.batches(len(y), spec.batch_size)
    wanted = set(range(len(bounds) + 1)) if roots_at is None else set(roots_at)
    kept = set(range(len(bounds) + 1)) if keep_states is True else set(keep_states or ())
    if detail is not None and not 0 <= detail < len(bounds):
        raise st.StageError(f"batch {detail} of a stage of {len(bounds)} batches")
    if not all(0 <= k <= len(bounds) for k in wanted):
        raise st.StageError(f"state roots are defined for 0..{len(bounds)} batches")
    trainer = Trainer(spec, layout, params, buffers, step, torch.device("cpu"), seed, int(stage_index), True)
    xq = torch.from_numpy(st.quantize_inputs(x, arena("inputs", x.size, np.float64)))
    xmax = int(fp.absmax(xq))
    trace = StageTrace(len(bounds), {})

    def commit(k: int) -> None:
        if k in wanted or k in kept:
            p, b = trainer.host_state()
            vector = state_vector(layout, p, b, trainer.step)          # a copy: the buffers move on
            if k in kept:
                trace.states[k] = vector
            if k in wanted:
                trace.state_roots[k] = merkle.root(vector)

    def record(name: str, value) -> None:
        if name == "loss":
            trace.ops.extend(_loss_ops(*value))
        elif name.startswith("grad."):           # as the optimiser step reads them
            trace.ops.append(Op(name, np.clip(_ints(value), -fp.G_MAX, fp.G_MAX)))
        else:
            trace.ops.append(Op(name, _ints(value)))

    commit(0)
    for j, (start, end) in enumerate(bounds):
        if j == detail:
            trace.ops.append(Op("input", _ints(xq[start:end])))
            trainer.record = record
        trainer.run_batch(xq[start:end], xmax, y[start:end])
        trainer.record = None
        commit(j + 1)
    p, b = trainer.host_state()           # the stage's reused arrays: the next stage overwrites them
    trace.final = (layout, p.copy(), {k: v.copy() for k, v in b.items()}, trainer.step)
    return trace


def partial_sums(a: Iterable[int], b: Iterable[int], start: int = 0) -> list[int]:
    """acc_0 = start, acc_{k+1} = acc_k + a_k * b_k, exactly (Python integers): the sequence a
    dispute over one output element of a product bisects (K + 1 values)."""
    out = [int(start)]
    for u, v in zip(a, b, strict=True):
        out.append(out[-1] + int(u) * int(v))
    return out
