"""API fixtures: the gateway on a real Anvil, signed-in employers with Anvil's dev keys."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient

from api.main import create_app
from zkpot.devnet import dev_private_keys


@pytest.fixture
def api_settings(settings, anvil, circuit_cache):
    return settings.model_copy(update={"rpc_url": anvil.rpc_url, "max_upload_bytes": 64 * 1024,
                                       "circuit_dir": circuit_cache})


@pytest.fixture
def client(api_settings):
    app = create_app(api_settings, follow_chain=False, dashboard_dir=None)
    with TestClient(app, base_url="http://zkpot.test") as c:
        yield c


def sign_in(client: TestClient, key: str) -> dict[str, str]:
    """Sign in with ``key`` (EIP-4361); return the Authorization header."""
    acct = Account.from_key(key)
    challenge = client.get("/api/auth/nonce", params={"address": acct.address}).json()
    sig = acct.sign_message(encode_defunct(text=challenge["message"])).signature.to_0x_hex()
    r = client.post("/api/auth/verify", json={"message": challenge["message"], "signature": sig})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


@pytest.fixture
def employer_key() -> str:
    return dev_private_keys(1)[0]


@pytest.fixture
def auth(client, employer_key) -> dict[str, str]:
    return sign_in(client, employer_key)
