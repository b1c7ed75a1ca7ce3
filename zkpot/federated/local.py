"""A participant's local training, and the Byzantine and lazy behaviours the demos play.

Training is plain torch on data that stays in this process: it starts from the round's global
model and returns the new state. Nothing here touches the network, the chain or storage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import numpy as np
import torch
from torch import nn


class Behaviour(str, Enum):
    """How a participant produces its update."""

    honest = "honest"
    label_flip = "label_flip"            # trains on y -> (C - 1 - y): a poisoning attack
    random_weights = "random_weights"    # submits noise: a lazy / sabotaging participant
    constant_output = "constant_output"  # every logit equal whatever the input
    free_rider = "free_rider"            # no training: the global model with one bias changed
    sybil_copy = "sybil_copy"            # one of several identities, each a tweaked global model

    @property
    def trains(self) -> bool:
        """Whether it does the work it is paid for."""
        return self is Behaviour.honest


@dataclass(frozen=True)
class LocalTraining:
    """Local optimisation settings: epochs of SGD over the participant's own samples."""

    epochs: int = 5
    lr: float = 0.05
    batch_size: int = 16
    seed: int = 0


def flip_labels(y: np.ndarray, num_classes: int) -> np.ndarray:
    return (num_classes - 1 - np.asarray(y)).astype(np.int64)


def train_local(model_factory: Callable[[], nn.Module], global_state: dict[str, torch.Tensor],
                X: np.ndarray, y: np.ndarray, training: LocalTraining) -> dict[str, torch.Tensor]:
    """Train from ``global_state`` on (X, y); return the trained state (float32, detached)."""
    torch.manual_seed(training.seed)
    model = model_factory()
    model.load_state_dict(global_state)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=training.lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    Xt = torch.as_tensor(np.asarray(X), dtype=torch.float32)
    yt = torch.as_tensor(np.asarray(y), dtype=torch.long)
    gen = torch.Generator().manual_seed(training.seed)
    for _ in range(training.epochs):
        order = torch.randperm(len(Xt), generator=gen)
        for start in range(0, len(Xt), training.batch_size):
            batch = order[start:start + training.batch_size]
            opt.zero_grad()
            loss_fn(model(Xt[batch]), yt[batch]).backward()
            opt.step()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def random_state(model_factory: Callable[[], nn.Module], seed: int) -> dict[str, torch.Tensor]:
    """Gaussian noise in the model's shapes, each tensor at its initialisation's spread.

    Noise of the fresh model's scale is what a lazy participant can submit cheaply; it passes
    through the circuit and proves its (low) count rather than failing to prove at all.
    """
    gen = torch.Generator().manual_seed(seed)
    return {k: torch.randn(v.shape, generator=gen) * float(v.float().std() if v.numel() > 1 else 0.1)
            for k, v in model_factory().state_dict().items()}


def constant_state(model_factory: Callable[[], nn.Module]) -> dict[str, torch.Tensor]:
    """Zero weights and one bias value everywhere: every logit is the same whatever the input.
    (All zeros would commit to the identity point, which the verifier refuses outright.)"""
    return {k: (torch.full_like(v, 0.25) if k.endswith("bias") else torch.zeros_like(v))
            for k, v in model_factory().state_dict().items()}


def tweaked(global_state: dict[str, torch.Tensor], seed: int, size: float = 0.02) -> dict[str, torch.Tensor]:
    """The global model with one bias changed by ``size``: a new h_W, about its accuracy."""
    state = {k: v.detach().clone() for k, v in global_state.items()}
    bias = [k for k in state if k.endswith("bias")][-1]
    state[bias].view(-1)[seed % state[bias].numel()] += size
    return state


def make_update(behaviour: Behaviour, model_factory: Callable[[], nn.Module],
                global_state: dict[str, torch.Tensor], X: np.ndarray, y: np.ndarray,
                num_classes: int, training: LocalTraining) -> dict[str, torch.Tensor]:
    """The update a participant of the given behaviour would submit this round."""
    if behaviour is Behaviour.random_weights:
        return random_state(model_factory, training.seed)
    if behaviour is Behaviour.constant_output:
        return constant_state(model_factory)
    if behaviour in (Behaviour.free_rider, Behaviour.sybil_copy):
        return tweaked(global_state, training.seed)
    labels = flip_labels(y, num_classes) if behaviour is Behaviour.label_flip else y
    return train_local(model_factory, global_state, X, labels, training)


def count_correct(model_factory: Callable[[], nn.Module], state: dict[str, torch.Tensor],
                  X: np.ndarray, y: np.ndarray) -> int:
    """Float model's correct predictions on (X, y): what the proof should prove."""
    model = model_factory()
    model.load_state_dict(state)
    model.eval()
    with torch.no_grad():
        pred = model(torch.as_tensor(np.asarray(X), dtype=torch.float32)).argmax(1)
    return int((pred == torch.as_tensor(np.asarray(y))).sum())


def train_fn(behaviour: Behaviour, model_factory: Callable[[], nn.Module], X: np.ndarray, y: np.ndarray,
             num_classes: int, training: LocalTraining) -> Callable[[dict], dict]:
    """A participant's training function (global state in, update out) for ``behaviour``."""
    return lambda global_state: make_update(behaviour, model_factory, global_state, X, y, num_classes, training)
