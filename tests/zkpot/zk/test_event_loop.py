"""zkpot.zk from code whose thread runs an event loop (async web handlers, browser drivers)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from zkpot import zk

from .conftest import N


def test_commitments_and_proofs_work_inside_a_running_event_loop(circuit, model, test_set, proof,
                                                                expected):
    X, y = test_set

    async def from_a_handler():
        return (zk.test_set_commitment(circuit, X[:N], y[:N]),
                zk.weights_commitment(circuit, model.state_dict()),
                zk.verify(circuit, proof, **expected))

    # a thread of its own runs the loop, whatever this thread already runs (a browser driver's)
    with ThreadPoolExecutor(max_workers=1) as pool:
        c_t, h_w, valid = pool.submit(asyncio.run, from_a_handler()).result()
    assert c_t == proof.test_set_commitment
    assert h_w == proof.model_commitment
    assert valid
