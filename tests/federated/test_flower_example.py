"""examples/flower-digits: a Flower app with zkpot added, as `flwr run` loads it."""

from __future__ import annotations

import sys
import tomllib

import pytest

from zkpot.config import PROJECT_ROOT

APP = PROJECT_ROOT / "examples" / "flower-digits"


@pytest.fixture(scope="module")
def apps():
    sys.path.insert(0, str(APP))
    try:
        from flower_digits import client_app, server_app

        yield client_app.app, server_app.app
    finally:
        sys.path.remove(str(APP))


def test_the_app_config_names_its_components_and_zkpots_settings():
    config = tomllib.loads((APP / "pyproject.toml").read_text())["tool"]["flwr"]["app"]
    assert config["components"] == {"serverapp": "flower_digits.server_app:app",
                                    "clientapp": "flower_digits.client_app:app"}
    assert {"num-server-rounds", "zkpot-rpc-url", "zkpot-threshold", "zkpot-min-improvement"} <= set(config["config"])


def test_the_client_app_commits_in_train_and_reveals_in_train_reveal(apps):
    client, server = apps
    assert set(client._registered_funcs) == {"train.default", "train.reveal"}
    assert server._main is not None


def test_the_users_task_knows_nothing_of_zkpots_protocol():
    source = (APP / "flower_digits" / "task.py").read_text()
    assert "zkpot_flower" not in source and "flwr" not in source
