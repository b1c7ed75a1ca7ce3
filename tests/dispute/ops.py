"""Helpers of the one-step tests: operands opened against real Merkle roots, and the stage
function's own code (zkpot/pot) run on one element, as the reference."""

from __future__ import annotations

import numpy as np
import torch

from zkpot.pot import fixedpoint as fp
from zkpot.pot import layers as L
from zkpot.pot import merkle, optim

F64 = torch.float64


def b32(h: bytes) -> str:
    return "0x" + h.hex()


def opening(t: merkle.TensorTree, i: int) -> tuple:
    return (i, t.chunk(i), [b32(p) for p in t.proof(i)])


def operands(*values: int, pad: int = 0) -> list[tuple]:
    """Each value as an operand of one committed tensor (with ``pad`` more elements around
    them, so the proofs have depth): ((root, n), (index, value, proof))."""
    vals = [int(v) for v in values] + list(range(7, 7 + pad))
    t = merkle.tree(np.array(vals, dtype=object))
    return [((b32(t.root), t.n), opening(t, i)) for i in range(len(values))]


def table_tree() -> merkle.TensorTree:
    hi, lo, ln, _ = fp.tables()
    return merkle.tree(np.concatenate([hi, lo, ln]))


def table_opening(index: int) -> tuple:
    return opening(_TABLE, index)


_TABLE = table_tree()


# ---- the reference: zkpot/pot's own functions on one element ----

def linear_output(x: list[int], w: list[int], bias: int, relu: bool) -> int:
    xs = torch.tensor([x], dtype=F64)
    wt = torch.tensor([[v] for v in w], dtype=F64)
    y = L.affine(xs, wt, torch.tensor([bias], dtype=F64), fp.absmax(xs), fp.absmax(wt), relu)
    return int(y[0, 0])


def input_gradient(g: list[int], w: list[int]) -> int:
    gs = torch.tensor([g], dtype=F64)
    ws = torch.tensor([[v] for v in w], dtype=F64)
    return int(L.input_grad(gs, ws, fp.absmax(gs), fp.absmax(ws)).clamp_(-fp.G_MAX, fp.G_MAX)[0, 0])


def weight_gradient(g: list[int], x: list[int]) -> int:
    gt = torch.tensor([g], dtype=F64)
    xs = torch.tensor([[v] for v in x], dtype=F64)
    out = torch.empty(1, 1, dtype=F64)
    L.weight_grad(gt, xs, fp.absmax(gt), fp.absmax(xs), out, L.Workspace("cpu"), ("t",))
    return int(np.clip(np.floor(out.numpy()), -fp.G_MAX, fp.G_MAX)[0, 0])     # as the optimiser reads it


def sgd(w: int, g: int, buf: int | None, lr_q: int, mu_q: int) -> tuple[int, int]:
    ops = optim.NumpyOps()
    wa, ga = np.array([w], dtype=np.float64), np.array([g], dtype=np.float64)
    ba = None if buf is None else np.array([buf], dtype=np.float64)
    optim.sgd_step(ops, wa, ga, ba, lr_q / 2**24, mu_q / 2**24, fp.G_MAX, 0 if buf is None else abs(buf),
                   optim.Scratch(ops, 1), {})
    return int(wa[0]), (g if ba is None else int(ba[0]))


def adam(w: int, g: int, m: int, v: int, scalars: tuple[int, int, int, int]) -> tuple[int, int, int]:
    ops = optim.NumpyOps()
    wa, ga = np.array([w], dtype=np.float64), np.array([g], dtype=np.float64)
    ma, va = np.array([m], dtype=np.float64), np.array([v], dtype=np.float64)
    optim.adam_step(ops, wa, ga, ma, va, scalars, [v], optim.Scratch(ops, 1), {})
    return int(wa[0]), int(ma[0]), int(va[0])


def pool(window: list[int], k: int) -> tuple[int, int]:
    x = torch.tensor(window, dtype=F64).reshape(1, 1, k, k)
    top, idx = L.maxpool_forward(x, k, L.Workspace("cpu"), ("p",))
    return int(idx[0, 0, 0, 0]), int(top[0, 0, 0, 0])


def loss_row(z: list[int], label: int, batch: int):
    """Row 0 of a batch of ``batch`` samples through ``fp.cross_entropy``: its loss and
    gradient, and the intermediates the trace commits (max, e, sum)."""
    zz = np.zeros((batch, len(z)), dtype=np.int64)
    zz[0] = z
    y = np.zeros(batch, dtype=np.int64)
    y[0] = label
    losses, grad = fp.cross_entropy(zz, y)
    m = int(max(z))
    e = fp.exp_neg_q30(m - np.array(z, dtype=np.int64))
    return int(losses[0]), [int(v) for v in grad[0]], m, [int(v) for v in e], int(e.sum())
