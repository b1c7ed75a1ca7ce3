"""The node store keeps training secrets through a SIGKILL; leases expire with their holder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

from zkpot.node.store import DECLARED, NodeStore


def test_secret_written_by_a_killed_process_is_complete(tmp_path):
    # a child saves a secret, reports, and is SIGKILLed without any clean shutdown
    code = textwrap.dedent(f"""
        import os, sys, time
        from zkpot.node.store import NodeStore
        store = NodeStore({str(tmp_path)!r})
        store.save_trained(3, 2, 0, weights_hash=b"w" * 32, model_commitment=12345, rho=b"r" * 32,
                           rand=b"n" * 32, commitment=b"c" * 32, weights=b"S" * 10000)
        print("saved", flush=True)
        time.sleep(60)
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "saved"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()

    secret = NodeStore(tmp_path).secret(3, 2, 0)
    assert secret.rho == b"r" * 32 and secret.rand == b"n" * 32 and secret.commitment == b"c" * 32
    assert secret.model_commitment == 12345
    assert secret.weights_file.read_bytes() == b"S" * 10000


def test_first_trained_record_wins_and_status_moves_on(tmp_path):
    store = NodeStore(tmp_path)
    kw = dict(weights_hash=b"w" * 32, model_commitment=0, commitment=b"c" * 32, weights=b"S")
    first = store.save_trained(1, 1, 0, rho=b"a" * 32, rand=b"1" * 32, **kw)
    again = store.save_trained(1, 1, 0, rho=b"b" * 32, rand=b"2" * 32, **kw)
    assert again.rho == first.rho == b"a" * 32  # a re-run never replaces a kept secret
    store.mark(1, 1, 0, DECLARED)
    assert store.secret(1, 1, 0).status == DECLARED
    store.forget(1, 1, 0)
    assert store.secret(1, 1, 0) is None and not first.weights_file.exists()


def test_lease_of_a_dead_process_can_be_taken(tmp_path):
    store = NodeStore(tmp_path)
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        from zkpot.node.store import NodeStore
        assert NodeStore({str(tmp_path)!r}).acquire("train:1:1", stale_after=600)
        print("held", flush=True)
        import time; time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "held"
    assert not store.acquire("train:1:1", stale_after=600)  # a live holder keeps it
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert store.acquire("train:1:1", stale_after=600)
