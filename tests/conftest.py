"""Shared fixtures: real local services, started on free loopback ports and stopped after."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from zkpot.devnet import Anvil, Redis

if TYPE_CHECKING:  # the contract tests load this file in brownie's environment, which has no pydantic-settings
    from zkpot.config import Settings


@pytest.fixture(scope="session")
def anvil(tmp_path_factory):
    """A real Anvil chain for the session (dev accounts funded, base fee 0)."""
    with Anvil(log_dir=tmp_path_factory.mktemp("anvil-log")) as chain:
        yield chain


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A real Redis for the session (no persistence)."""
    with Redis(log_dir=tmp_path_factory.mktemp("redis-log")) as server:
        yield server


@pytest.fixture(scope="session")
def circuit_cache(tmp_path_factory) -> Path:
    """One zk circuit cache for the whole run: each (architecture, N) is set up once.

    ``ZKPOT_TEST_CIRCUIT_DIR`` (set by tools/run-tests.sh) keeps it between runs, as a node's
    cache would be; circuits are keyed by architecture, N, parameters and ezkl version.
    """
    named = os.environ.get("ZKPOT_TEST_CIRCUIT_DIR")
    path = Path(named) if named else tmp_path_factory.mktemp("circuits")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def settings(tmp_path) -> Settings:
    """Settings pointing every piece of state at a fresh temporary folder."""
    from zkpot.config import Settings

    return Settings.from_env(environ={}, state_dir=tmp_path / "state")
