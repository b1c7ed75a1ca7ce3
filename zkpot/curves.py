"""Loss and accuracy curves of a job: finalised stage weights evaluated on public data.

Training chunks and stage weights are public, so each finalised S_i is fetched by the CID
revealed on chain (the store checks content against the CID), checked against the weights hash
finalised on chain, and evaluated in float: mean cross-entropy on its chunk B_i, accuracy on
the training set (the distinct samples of all chunks) or, once published, on the test set.
Results are cached per weights CID (an index: delete it and it is recomputed).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from zkpot import datasets
from zkpot.config import Settings
from zkpot.hashing import canonical_json, keccak
from zkpot.manifest import Manifest
from zkpot.spec import ModelSpec

@dataclass(frozen=True)
class StageMetrics:
    """S_i evaluated in float: mean cross-entropy on its chunk B_i, accuracy on the eval set."""

    stage: int
    weights_cid: str
    mean_loss: float
    accuracy: float


def stage_metrics(spec: ModelSpec, state: bytes, chunk: datasets.Dataset,
                  eval_set: datasets.Dataset) -> tuple[float, float]:
    """(mean loss on ``chunk``, accuracy on ``eval_set``) of the float model with ``state``."""
    import torch

    from zkpot.stage import evaluate, float_model

    with torch.no_grad():
        logits = float_model(spec, state)(torch.as_tensor(chunk.features))
        loss = torch.nn.functional.cross_entropy(logits, torch.as_tensor(chunk.labels)).item()
    return float(loss), evaluate(spec, state, eval_set.features, eval_set.labels)


@dataclass
class Curves:
    """Per-stage metrics of a job; stages that could not be evaluated carry their reason."""

    evaluated_on: str
    points: list[StageMetrics] = field(default_factory=list)
    unavailable: dict[int, str] = field(default_factory=dict)


def _cache_path(settings: Settings, weights_cid: str, w_hash: bytes, eval_key: str) -> Path:
    """The cache file of one evaluation, named by a hash of what names it: the CID comes from the
    chain, so it never becomes a path itself (found by an attack: an absolute or overlong CID
    read a file of the attacker's choosing, or failed every page of the job)."""
    name = keccak(canonical_json([weights_cid, bytes(w_hash).hex(), eval_key])).hex()
    return settings.path("cache") / "curves" / f"{name}.json"


def job_curves(settings: Settings, manifest: Manifest, finalised: Sequence[tuple[int, bytes, str]],
               test_set: tuple[str, Callable[[], datasets.Dataset]] | None = None,
               compute: bool = True) -> Curves:
    """Metrics of each finalised ``(stage, weights_hash, weights_cid)``, cached per weights CID.

    Each S_i is fetched by its CID (the store checks the content against the CID) and its
    keccak hash checked against the hash finalised on chain before it is evaluated. Accuracy is
    on the posted test set when there is one (``(key, load)``: the key names the cache, ``load``
    reads the set only when something is computed), else on the training chunks.
    ``compute=False`` answers from the cache only.
    """
    from zkpot.hashing import weights_hash
    from zkpot.storage import StorageError, open_store, parse_cid

    store = open_store(settings)
    eval_key, evaluated_on = ("test-" + test_set[0], "test set") if test_set else ("train", "training set")
    out = Curves(evaluated_on)
    data: dict[str, datasets.Dataset] = {}

    def chunk(cid: str) -> datasets.Dataset:
        if cid not in data:
            data[cid] = datasets.decode_chunk(store.get(cid))
        return data[cid]

    eval_set = None
    for stage, w_hash, w_cid in sorted(finalised):
        try:
            parse_cid(w_cid)
        except StorageError as e:
            out.unavailable[stage] = f"cannot evaluate: {str(e)[:120]}"
            continue
        path = _cache_path(settings, w_cid, w_hash, eval_key)
        if path.is_file():
            out.points.append(StageMetrics(**json.loads(path.read_text())))
            continue
        if not compute:
            out.unavailable[stage] = "not evaluated yet"
            continue
        if not 1 <= stage <= manifest.stages:
            out.unavailable[stage] = f"stage {stage} is not in the manifest"
            continue
        try:
            state = store.get(w_cid)
            if weights_hash(state) != bytes(w_hash):
                out.unavailable[stage] = "weights do not match the hash finalised on chain"
                continue
            if eval_set is None:
                eval_set = (test_set[1]() if test_set
                            else _union([chunk(c) for c in dict.fromkeys(manifest.chunks)]))
            loss, acc = stage_metrics(manifest.model_spec, state, chunk(manifest.chunks[stage - 1]), eval_set)
        except (KeyError, StorageError, datasets.DatasetError, OSError, ValueError) as e:
            out.unavailable[stage] = f"cannot evaluate: {e}"
            continue
        point = StageMetrics(stage, w_cid, loss, acc)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{time.monotonic_ns()}")
        tmp.write_text(json.dumps(point.__dict__))
        os.replace(tmp, path)
        out.points.append(point)
    return out


def _union(parts: list[datasets.Dataset]) -> datasets.Dataset:
    """The distinct training samples across the chunks (chunks repeat samples over epochs)."""
    x = np.concatenate([p.features for p in parts])
    y = np.concatenate([p.labels for p in parts])
    flat = np.concatenate([x.reshape(len(x), -1), y[:, None].astype(np.float32)], axis=1)
    _, first = np.unique(flat, axis=0, return_index=True)
    keep = np.sort(first)
    return datasets.Dataset(x[keep], y[keep], parts[0].num_classes, parts[0].input_shape)
