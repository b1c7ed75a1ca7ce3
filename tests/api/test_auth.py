"""Sign-In with Ethereum: only the wallet that signed the message gets a session."""

from __future__ import annotations

from eth_account import Account
from eth_account.messages import encode_defunct

from tests.api.conftest import sign_in
from zkpot.devnet import dev_private_keys


def _challenge(client, address):
    r = client.get("/api/auth/nonce", params={"address": address})
    assert r.status_code == 200, r.text
    return r.json()


def test_sign_in_gives_a_session_for_the_signer(client, employer_key):
    headers = sign_in(client, employer_key)
    me = client.get("/api/auth/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["address"] == Account.from_key(employer_key).address


def test_sign_in_message_is_eip4361_for_this_host_and_chain(client, employer_key, anvil):
    acct = Account.from_key(employer_key)
    c = _challenge(client, acct.address)
    lines = c["message"].split("\n")
    assert lines[0] == "zkpot.test wants you to sign in with your Ethereum account:"
    assert lines[1] == acct.address
    assert "Chain ID: 31337" in lines and f"Nonce: {c['nonce']}" in lines


def test_sign_in_with_another_key_is_refused(client):
    alice, mallory = (Account.from_key(k) for k in dev_private_keys(2))
    c = _challenge(client, alice.address)
    sig = mallory.sign_message(encode_defunct(text=c["message"])).signature.to_0x_hex()
    r = client.post("/api/auth/verify", json={"message": c["message"], "signature": sig})
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "not made by the address" in r.json()["detail"]


def test_sign_in_nonce_is_single_use(client, employer_key):
    acct = Account.from_key(employer_key)
    c = _challenge(client, acct.address)
    body = {"message": c["message"],
            "signature": acct.sign_message(encode_defunct(text=c["message"])).signature.to_0x_hex()}
    assert client.post("/api/auth/verify", json=body).status_code == 200
    again = client.post("/api/auth/verify", json=body)
    assert again.status_code == 401 and "nonce" in again.json()["detail"]


def test_sign_in_for_another_domain_is_refused(client, employer_key):
    acct = Account.from_key(employer_key)
    c = _challenge(client, acct.address)
    message = c["message"].replace("zkpot.test wants", "evil.example wants", 1)
    sig = acct.sign_message(encode_defunct(text=message)).signature.to_0x_hex()
    r = client.post("/api/auth/verify", json={"message": message, "signature": sig})
    assert r.status_code == 401 and "domain" in r.json()["detail"]


def test_me_without_a_session_is_401(client):
    r = client.get("/api/auth/me")
    assert r.status_code == 401
    assert "sign in" in r.json()["detail"]
    r = client.get("/api/auth/me", headers={"Authorization": "Bearer made-up"})
    assert r.status_code == 401
