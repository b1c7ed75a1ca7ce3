"""zkpot.config: the settings object reads ZKPOT_* variables, and only a given mapping when one is passed."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from zkpot.config import Settings


def test_settings_are_read_from_zkpot_variables(monkeypatch):
    monkeypatch.setenv("ZKPOT_API_PORT", "19999")
    monkeypatch.setenv("ZKPOT_CHAIN_ID", "")  # empty counts as unset
    monkeypatch.setenv("ZKPOT_NODE_KEY", "0x" + "11" * 32)
    monkeypatch.setenv("ZKPOT_NOT_A_SETTING", "1")  # other project variables (ports of tools) are not settings
    s = Settings.from_env()
    assert s.api_port == 19999 and s.chain_id is None
    assert s.node_key.get_secret_value() == "0x" + "11" * 32
    assert "11" * 32 not in repr(s)  # secrets never in a repr or a log line
    assert Settings.from_env(api_port=5).api_port == 5  # keyword overrides win


def test_a_given_mapping_is_read_alone(monkeypatch, tmp_path):
    monkeypatch.setenv("ZKPOT_NODE_KEY", "0x" + "22" * 32)
    monkeypatch.setenv("ZKPOT_API_PORT", "19999")
    s = Settings.from_env(environ={"ZKPOT_RPC_URL": "http://127.0.0.1:1", "ZKPOT_CHAIN_ID": ""}, state_dir=tmp_path)
    assert s.node_key is None and s.api_port == 18000  # the process's variables are not read
    assert (s.rpc_url, s.chain_id, s.state_dir) == ("http://127.0.0.1:1", None, Path(tmp_path))
    assert Settings.from_env().node_key is not None  # and the next plain read sees them again


@pytest.mark.parametrize("bad", [{"ZKPOT_API_PORT": "not a port"}, {"ZKPOT_STORAGE_BACKEND": "ftp"},
                                 {"ZKPOT_SESSION_TTL_S": "1"}])
def test_invalid_values_are_refused(bad):
    with pytest.raises(ValidationError):
        Settings.from_env(environ=bad)
