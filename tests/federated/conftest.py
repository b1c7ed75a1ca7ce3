"""Federated-mode fixtures: a chain of this package's own, whose clock the tests move."""

from __future__ import annotations

import pytest

from zkpot.devnet import Anvil


@pytest.fixture(scope="package")
def anvil(tmp_path_factory):
    """A real Anvil for tests/federated only (it replaces the session's chain here).

    Rounds run in phases by chain time and the tests skip the idle part of each phase with
    ``DevChainClock``, which moves the chain's clock forward: on a chain of their own, the
    jump never reaches another package's deadlines.
    """
    with Anvil(log_dir=tmp_path_factory.mktemp("fl-anvil-log")) as chain:
        yield chain
