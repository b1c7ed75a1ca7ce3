"""The user's own torch code: the model, each node's data and its training. Nothing here
knows about zkpot or Flower."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from zkpot.datasets import demo_dataset
from zkpot.federated.split import dirichlet_split
from zkpot.spec import ModelSpec, build_model

SPEC = ModelSpec.from_json({
    "layers": [{"type": "Linear", "in_features": 64, "out_features": 8}, {"type": "ReLU"},
               {"type": "Linear", "in_features": 8, "out_features": 10}],
    "optimizer": {"type": "sgd", "lr": 0.05}, "batch_size": 16, "epochs": 5, "seed": 0})


def model() -> nn.Module:
    """The architecture (a zkpot model spec: the circuit proves exactly this)."""
    return build_model(SPEC)


def split(test_size: int, seed: int = 0):
    """(test set, the rest): the task's public test set and the pool nodes draw from."""
    ds = demo_dataset("digits")
    order = np.random.default_rng(seed).permutation(len(ds))
    return ds.subset(order[:test_size]), ds.subset(order[test_size:])


def load_partition(partition: int, partitions: int, test_size: int) -> tuple[np.ndarray, np.ndarray]:
    """This node's private data: a Dirichlet(0.5) non-IID share of the pool."""
    _, pool = split(test_size)
    part = dirichlet_split(pool.labels, partitions, alpha=0.5, seed=0)[partition]
    return pool.features[part], pool.labels[part]


def train(state: dict, X: np.ndarray, y: np.ndarray, epochs: int, lr: float, seed: int = 0) -> dict:
    """Plain SGD from ``state`` on (X, y); the trained state dict."""
    torch.manual_seed(seed)
    net = model()
    net.load_state_dict(state)
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
    Xt, yt = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long)
    for _ in range(epochs):
        for batch in torch.randperm(len(Xt)).split(16):
            opt.zero_grad()
            nn.functional.cross_entropy(net(Xt[batch]), yt[batch]).backward()
            opt.step()
    return {k: v.detach().clone() for k, v in net.state_dict().items()}
