"""One stage of fixed-point training on a device: forward, backward and the optimiser step over
the flat buffers of ``zkpot.pot.layout``. ``zkpot.stage.train_stage`` is its public door."""

from __future__ import annotations

import numpy as np
import torch

from zkpot.hashing import keccak
from zkpot.pot import fixedpoint as fp
from zkpot.pot import kernels
from zkpot.pot import layers as L
from zkpot.pot import optim
from zkpot.pot.layout import Layout, arena
from zkpot.spec import SGD, Conv2d, Dropout, Flatten, Linear, MaxPool2d, ModelSpec, ReLU


def derived_rng(seed: int, purpose: bytes, *indices: int) -> np.random.PCG64:
    """PCG64 keyed by keccak256(purpose || seed || indices as uint64 big-endian)[:16]."""
    material = purpose + b"".join(int(v).to_bytes(8, "big") for v in (seed, *indices))
    return np.random.PCG64(int.from_bytes(keccak(material)[:16], "big"))


class Trainer:
    """S_i loaded into flat buffers on ``device``; ``run_batch`` trains one batch in place.

    ``host_ops`` selects numpy for the optimiser step (the CPU default); False runs every step
    in torch on the device, which is what a GPU does (tests run it on the CPU too).
    """

    def __init__(self, spec: ModelSpec, layout: Layout, params: np.ndarray, buffers: dict[str, np.ndarray],
                 step: int, device: torch.device, seed: int, stage_index: int, host_ops: bool) -> None:
        self.spec, self.layout, self.device, self.step = spec, layout, device, step
        self.params = torch.from_numpy(params).to(device)                # shares memory on the CPU
        # every backward pass writes every entry (each parameter belongs to a Linear or Conv2d layer)
        self.grad = torch.from_numpy(arena("grad", layout.size, np.float64)).to(device)
        self.host_ops = host_ops
        if host_ops:
            self.ops = optim.NumpyOps()
            self._w, self._g, self.buffers = self.params.numpy(), self.grad.numpy(), buffers
        else:
            self.ops = optim.TorchOps(device)
            self._w, self._g = self.params, self.grad
            self.buffers = {k: torch.from_numpy(v).to(device) for k, v in buffers.items()}
        threads = torch.get_num_threads() if host_ops else 1       # the step's blocks shared out
        self.scratch = [optim.Scratch(self.ops, layout.size) for _ in range(threads)]
        # each product layer's parameters (weight then bias) are one range of the flat arrays: the
        # optimiser steps a layer as soon as its gradients are made, while they are in the cache
        self.ranges = {s.layer: (self._range_start(layout, s.layer), s.stop) for s in layout.slots
                       if s.name.endswith(".bias")}
        # bounds the optimiser step uses to choose float64 or int64 (both exact, same integers)
        mom, v = self.buffers.get("momentum"), self.buffers.get("v")
        self.bbound = {i: self.ops.absmax(mom[a:b]) for i, (a, b) in self.ranges.items()} if mom is not None \
            else {}
        self.vbounds = {i: optim.block_bounds(self.ops, v[a:b], b - a) for i, (a, b) in self.ranges.items()} \
            if v is not None else {}
        self.w = {s.name: self.params[s.start:s.stop].view(s.shape) for s in layout.slots}
        self.gw = {s.name: self.grad[s.start:s.stop].view(s.shape) for s in layout.slots}
        kinds = spec.layers
        self.fused = [isinstance(l, (Linear, Conv2d)) and i + 1 < len(kinds) and isinstance(kinds[i + 1], ReLU)
                      for i, l in enumerate(kinds)]
        # a ReLU right before a MaxPool2d: its mask is applied to the pooled gradient (same result,
        # a k*k smaller tensor): the pool routes each gradient to its window's chosen element
        self.relu_then_pool = {i for i, l in enumerate(kinds[:-1])
                               if isinstance(l, ReLU) and isinstance(kinds[i + 1], MaxPool2d)}
        self.first = min(i for i, l in enumerate(kinds) if isinstance(l, (Linear, Conv2d)))
        self.rngs = {i: derived_rng(seed, b"zkpot.dropout", stage_index, i)
                     for i, l in enumerate(kinds) if isinstance(l, Dropout)}
        self._wmax: dict[int, int] = {}
        self._tracked: set[int] = set()
        self.ws = L.Workspace(device)
        # ``zkpot.pot.trace`` sets a callback record(name, tensor) for one batch; None in training
        self.record = None

    def _bound(self, i: int, k: int, amax: int, extra: int) -> int:
        """A bound on |weight of layer i|: 2^24 when that already fits, else its maximum (from
        the layer's last optimiser step once it needed one, so no extra pass)."""
        if fp.fits(k, amax, fp.W_MAX, extra):
            return fp.W_MAX
        if i not in self._wmax:
            self._wmax[i] = fp.absmax(self.w[f"{i}.weight"])
            self._tracked.add(i)
        return self._wmax[i]

    @staticmethod
    def _range_start(layout: Layout, layer: int) -> int:
        return next(s.start for s in layout.slots if s.name == f"{layer}.weight")

    def forward(self, x: torch.Tensor, xmax: int, train: bool = True, x_aug: torch.Tensor | None = None):
        """Logits (Q16, float64) and what the backward pass needs; ``xmax`` bounds |x|; ``x_aug``,
        when given, is [x; 1] (x its first rows): a Linear layer's weight gradient reads its input
        that way (``layers.weight_grad``), so each Linear writes its output into such a tensor too."""
        caches = []
        fused_relu = False
        aug = x_aug
        for i, layer in enumerate(self.spec.layers):
            cache = None
            if isinstance(layer, (Linear, Conv2d)):
                xmax = fp.absmax(x) if xmax is None else xmax
                w, b = self.w[f"{i}.weight"], self.w[f"{i}.bias"]
                k = w[0].numel()
                wmax = self._bound(i, k, xmax, L.BIAS_EXTRA)
                if isinstance(layer, Linear):
                    out = L.augmented(self.ws, (i, "out"), x.shape[0], w.shape[0], 1.0)
                    cache, x = (x, xmax, aug), L.affine(x, w.t(), b, xmax, wmax, self.fused[i], out[:-1])
                    aug = out
                else:
                    y, cols = L.conv_forward(x, w, b, layer.stride, layer.padding, xmax, wmax, self.fused[i],
                                             self.ws, (i,))
                    cache, x = (cols, xmax, x.shape), y
                xmax, fused_relu = None, self.fused[i]
            elif isinstance(layer, ReLU):
                if not fused_relu:
                    x, aug = x.clamp(min=0), None
                cache, fused_relu = x, False
            elif isinstance(layer, MaxPool2d):
                shape = x.shape
                x, idx = L.maxpool_forward(x, layer.kernel_size, self.ws, (i,))
                cache = (shape, idx, x)
            elif isinstance(layer, Flatten):
                cache = x.shape
                x = x.reshape(x.shape[0], -1)
            elif isinstance(layer, Dropout) and train and layer.p > 0:
                raw = self.rngs[i].random_raw(x.numel()) >> np.uint64(48)
                cache = L.dropout_scale((raw >= round(layer.p * 65536)).reshape(x.shape), layer.p, self.device)
                x, xmax = L.scale_q16(x, cache, fp.ACT_MAX), None
            if not isinstance(layer, (Linear, ReLU)):
                aug = None
            caches.append(cache)
            if self.record is not None:
                self.record(f"fwd.{i}", x)
        return x, caches

    @staticmethod
    def _grad_bound(terms: int, gmax: int, xmax: int) -> int:
        """A bound on a layer's weight and bias gradients (before saturation)."""
        return max(terms * gmax * max(xmax, 1) // 2**fp.A_FRAC + 1, terms * gmax)

    def backward(self, g: torch.Tensor, caches, g_aug: torch.Tensor | None = None) -> None:
        """Gradients (Q24) of every layer, each layer stepped by the optimiser right after (its
        weights are not needed again in this batch: the input gradient is made first). ``g_aug``,
        when given, is [g; 2^15] (g its first rows; see ``layers.weight_grad``)."""
        self.step += 1
        opt = self.spec.optimizer
        self._adam = None if isinstance(opt, SGD) else optim.adam_scalars_for(opt, self.step)
        for i in range(len(self.spec.layers) - 1, self.first - 1, -1):
            layer, cache = self.spec.layers[i], caches[i]
            need = i > self.first
            if isinstance(layer, Linear):
                x, xmax, x_aug = cache
                w = self.w[f"{i}.weight"]
                gmax = fp.absmax(g)
                wmax = self._bound(i, w.shape[0], gmax, 2**19) if need else 0
                # the input gradient is the next Linear's g (through a ReLU's in-place mask): [g; 2^15]
                out = L.augmented(self.ws, (i, "gin"), g.shape[0], w.shape[1], 2.0**15) if need else None
                g = L.linear_backward(g, x, w, gmax, xmax, wmax, self.gw[f"{i}.weight"], self.gw[f"{i}.bias"], need,
                                      self.ws, (i,), g_aug, x_aug, None if out is None else out[:-1])
                g_aug = out
                self._step_layer(i, self._grad_bound(x.shape[0], gmax, xmax))
            elif isinstance(layer, Conv2d):
                cols, xmax, in_shape = cache
                w = self.w[f"{i}.weight"]
                wmax = lambda gmax, i=i, o=w.shape[0]: self._bound(i, o, gmax, 2**19)  # noqa: E731
                bound = self._grad_bound(g[:, 0].numel(), fp.absmax(g), xmax)
                g = L.conv_backward(g, w, cols, in_shape, layer.stride, layer.padding, xmax, wmax,
                                    self.gw[f"{i}.weight"], self.gw[f"{i}.bias"], need, self.ws, (i,))
                self._step_layer(i, bound)
            elif isinstance(layer, ReLU):
                if i not in self.relu_then_pool:             # in place: g_aug holds the result
                    g = g.mul_(torch.gt(cache, 0, out=self.ws.get((i, "mask"), cache.shape, torch.bool)))
            elif isinstance(layer, MaxPool2d):
                shape, idx, top = cache
                if i - 1 in self.relu_then_pool:         # the ReLU's mask at the chosen elements
                    g = g * (top > 0)
                g = L.maxpool_backward(g, idx, shape, self.ws, (i,))
            elif isinstance(layer, Flatten):
                g = g.reshape(cache)
            elif isinstance(layer, Dropout) and cache is not None:
                g = L.scale_q16(g, cache, fp.G_MAX)
            if not isinstance(layer, (Linear, ReLU)):
                g_aug = None
            if self.record is not None and i > self.first:
                self.record(f"bwd.{i}", g)

    def _step_layer(self, i: int, gbound: int) -> None:
        """One optimiser step of layer i's parameters (``zkpot.pot.optim``)."""
        a, b = self.ranges[i]
        w, g = self._w[a:b], self._g[a:b]
        if self.record is not None:
            self.record(f"grad.{i}", g)
        blocks = optim.block_count(b - a, self.ops.block)
        maxima = dict.fromkeys(range(blocks), 0) if i in self._tracked else {}
        opt = self.spec.optimizer
        if isinstance(opt, SGD):
            mom = self.buffers.get("momentum")
            self.bbound[i] = optim.sgd_step(self.ops, w, g, None if mom is None else mom[a:b], opt.lr, opt.momentum,
                                            gbound, self.bbound.get(i, 0), self.scratch, maxima)
        else:
            optim.adam_step(self.ops, w, g, self.buffers["m"][a:b], self.buffers["v"][a:b], self._adam,
                            self.vbounds[i], self.scratch, maxima)
        if i in self._tracked:        # the weight's blocks (one may hold some of the bias: still a bound)
            self._wmax[i] = max(maxima.values())
        else:
            self._wmax.pop(i, None)
        if self.record is not None:
            self.record(f"step.{i}.param", w)
            for name in self.layout.buffers:
                self.record(f"step.{i}.{name}", self.buffers[name][a:b])

    def run_batch(self, x: torch.Tensor, xmax: int, y: np.ndarray, x_aug: torch.Tensor | None = None) -> np.ndarray:
        """Train on one batch; return its per-sample losses (Q16, computed before the update).
        ``x_aug``: [x; 1], when the caller holds the batch that way (``forward``)."""
        z, caches = self.forward(x, xmax, x_aug=x_aug)
        g_aug = L.augmented(self.ws, ("loss", "grad"), z.shape[0], z.shape[1], 2.0**15)
        losses = None
        if self.host_ops and self.record is None:       # the fused loss writes the gradient in place
            losses = kernels.cross_entropy(z.numpy(), y, g_aug[:-1].numpy())
        if losses is None:
            losses, grad = fp.cross_entropy(z.cpu().numpy().astype(np.int64), y)
            if self.record is not None:
                self.record("loss", (z, y, losses, grad))
            g_aug[:-1].copy_(torch.from_numpy(grad))
        self.backward(g_aug[:-1], caches, g_aug)
        return losses

    def host_state(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The flat parameters and buffers (float64 arrays of integers) on the host."""
        params = self.params.cpu().numpy()
        buffers = {k: (v.cpu().numpy() if isinstance(v, torch.Tensor) else v) for k, v in self.buffers.items()}
        return params, buffers
