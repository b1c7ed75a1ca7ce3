"""Shared fixtures: real local services, started on free loopback ports and stopped after."""

from __future__ import annotations

import pytest

from zkpot.config import Settings
from zkpot.devnet import Anvil, Redis


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


@pytest.fixture
def settings(tmp_path) -> Settings:
    """Settings pointing every piece of state at a fresh temporary folder."""
    return Settings.from_env(environ={}, state_dir=tmp_path / "state")
