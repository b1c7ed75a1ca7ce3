"""The statement's ONNX graph without torch: its architecture hash, and the setup-time graph
with other weights.

A circuit's setup exports the statement once (``zkpot.zk.statement``, torch) and keeps the ONNX
as its template. A proof compiles that template with the certified weights written into its
initializers (``with_weights``): the same graph, byte for byte, as exporting the statement again
with those weights (a test compares both), so a process that only proves never loads torch.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

INPUT_NAMES = ("x", "onehot")
PARAM_PREFIX = "model."          # the statement wraps the classifier as its ``model`` child


def architecture_hash(onnx_path: Path) -> str:
    """sha256 of the exported graph with weight values left out: equal for every model of an
    architecture, different when a layer, shape or operator changes."""
    graph = onnx.load(str(onnx_path)).graph
    skeleton = {
        "nodes": [[n.op_type, list(n.input), list(n.output),
                   [onnx.helper.printable_attribute(a) for a in n.attribute]] for n in graph.node],
        "initializers": [[i.name, list(i.dims), i.data_type] for i in graph.initializer],
        "inputs": [str(i.type) for i in graph.input],
        "outputs": [str(o.type) for o in graph.output],
    }
    return hashlib.sha256(json.dumps(skeleton, sort_keys=True).encode()).hexdigest()


def param_names(onnx_path: Path) -> list[str]:
    """The graph's initializers, in order, named as the classifier's state dict."""
    return [i.name.removeprefix(PARAM_PREFIX) for i in onnx.load(str(onnx_path)).graph.initializer]


def with_weights(template: Path, arrays: Mapping[str, np.ndarray], path: Path) -> Path:
    """Write ``template`` with every initializer replaced by ``arrays[name]`` (float32, the
    initializer's shape) to ``path``. Raises ``ValueError`` when the names, shapes or types do
    not match the template's exactly: nothing else of the graph may change."""
    model = onnx.load(str(template))
    inits = model.graph.initializer
    names = [i.name.removeprefix(PARAM_PREFIX) for i in inits]
    if sorted(names) != sorted(arrays):
        raise ValueError(f"weights {sorted(arrays)} do not match the circuit's params {sorted(names)}")
    for init, name in zip(inits, names):
        value = np.asarray(arrays[name])
        if value.dtype != np.float32 or tuple(value.shape) != tuple(init.dims) \
                or init.data_type != onnx.TensorProto.FLOAT:
            raise ValueError(f"{name}: {value.dtype}{list(value.shape)} does not fit the "
                             f"circuit's float32{list(init.dims)}")
        init.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(value), init.name))
    onnx.save(model, str(path))
    return path


__all__ = ["INPUT_NAMES", "architecture_hash", "param_names", "with_weights"]
