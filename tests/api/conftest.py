"""API fixtures: the gateway on a real Anvil and Redis, signed-in employers with Anvil's dev keys."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient

from api.main import create_app
from zkpot.devnet import dev_private_keys


DOMAIN = "zkpot.test"


@pytest.fixture
def api_settings(settings, anvil, redis_server, circuit_cache):
    return settings.model_copy(update={"rpc_url": anvil.rpc_url, "redis_url": redis_server.url,
                                       "max_upload_bytes": 64 * 1024, "circuit_dir": circuit_cache,
                                       "siwe_domain": DOMAIN, "siwe_uri": f"http://{DOMAIN}"})


@pytest.fixture
def client(api_settings):
    app = create_app(api_settings, follow_chain=False, dashboard_dir=None)
    with TestClient(app, base_url=f"http://{DOMAIN}") as c:
        yield c


def signed_message(client: TestClient, key: str) -> dict[str, str]:
    """A challenge for ``key``'s address, signed by ``key``: the body of POST /api/auth/verify."""
    acct = Account.from_key(key)
    r = client.get("/api/auth/nonce", params={"address": acct.address})
    assert r.status_code == 200, r.text
    message = r.json()["message"]
    return {"message": message,
            "signature": acct.sign_message(encode_defunct(text=message)).signature.to_0x_hex()}


def sign_in(client: TestClient, key: str) -> dict[str, str]:
    """Sign in with ``key`` (EIP-4361) for a bearer token; return the Authorization header."""
    r = client.post("/api/auth/verify", json={**signed_message(client, key), "bearer": True})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


@pytest.fixture
def employer_key() -> str:
    return dev_private_keys(1)[0]


@pytest.fixture
def auth(client, employer_key) -> dict[str, str]:
    return sign_in(client, employer_key)
