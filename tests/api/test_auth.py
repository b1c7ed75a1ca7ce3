"""Sign-In with Ethereum: only the wallet that signed the message gets a session, for this
site only, and the session is kept where page scripts cannot read it (Redis, HttpOnly cookie)."""

from __future__ import annotations

from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient

from api import siwe
from api.main import create_app
from tests.api.conftest import sign_in, signed_message
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


# ---- the attacker's side ------------------------------------------------------------------

def test_sign_in_domain_comes_from_configuration_not_the_host_header(client, employer_key):
    # a phishing site relaying requests sends its own Host: the message still names this site
    acct = Account.from_key(employer_key)
    r = client.get("/api/auth/nonce", params={"address": acct.address}, headers={"Host": "evil.example"})
    assert r.status_code == 200
    assert r.json()["message"].startswith("zkpot.test wants you to sign in")
    assert "URI: http://zkpot.test" in r.json()["message"]
    # and a message signed for the phishing site's domain is refused whatever Host says
    message = r.json()["message"].replace("zkpot.test wants", "evil.example wants", 1)
    sig = acct.sign_message(encode_defunct(text=message)).signature.to_0x_hex()
    refused = client.post("/api/auth/verify", json={"message": message, "signature": sig},
                          headers={"Host": "evil.example"})
    assert refused.status_code == 401 and "domain 'evil.example'" in refused.json()["detail"]


def test_sign_in_for_another_uri_is_refused(client, employer_key):
    acct = Account.from_key(employer_key)
    c = _challenge(client, acct.address)
    message = c["message"].replace("URI: http://zkpot.test", "URI: https://evil.example/login", 1)
    sig = acct.sign_message(encode_defunct(text=message)).signature.to_0x_hex()
    r = client.post("/api/auth/verify", json={"message": message, "signature": sig})
    assert r.status_code == 401 and "URI" in r.json()["detail"]


def test_a_nonce_issued_for_one_address_does_not_sign_in_another(client):
    alice, mallory = (Account.from_key(k) for k in dev_private_keys(2))
    c = _challenge(client, alice.address)
    # Mallory signs a message of her own around Alice's nonce
    message = c["message"].replace(alice.address, mallory.address)
    sig = mallory.sign_message(encode_defunct(text=message)).signature.to_0x_hex()
    r = client.post("/api/auth/verify", json={"message": message, "signature": sig})
    assert r.status_code == 401 and "issued for another address" in r.json()["detail"]
    # the attempt did not burn it: Alice still signs in with it
    sig = alice.sign_message(encode_defunct(text=c["message"])).signature.to_0x_hex()
    assert client.post("/api/auth/verify", json={"message": c["message"], "signature": sig}).status_code == 200


def test_the_dashboard_session_is_an_httponly_strict_cookie(client, employer_key):
    r = client.post("/api/auth/verify", json=signed_message(client, employer_key))
    assert r.status_code == 200 and r.json().get("token") is None   # never in a body a page reads
    cookie = r.headers["set-cookie"]
    assert "zkpot_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Path=/api" in cookie
    me = client.get("/api/auth/me")   # the TestClient keeps the cookie, as a browser would
    assert me.status_code == 200 and me.json()["address"] == Account.from_key(employer_key).address
    assert client.post("/api/auth/logout", headers={"Origin": "http://zkpot.test"}).status_code == 204
    assert client.get("/api/auth/me").status_code == 401


def test_cross_site_writes_are_refused_before_they_reach_a_route(client, employer_key):
    client.post("/api/auth/verify", json=signed_message(client, employer_key))
    form = {"spec": "{}", "reward_per_declaration_wei": "1", "demo_dataset": "wine"}
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"},
                    {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}):
        r = client.post("/api/jobs", data=form, headers=headers)
        assert r.status_code == 403, (headers, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "cross-site request refused" in r.json()["detail"]
    # from the dashboard's own origin the request reaches the route (and its own checks)
    same = client.post("/api/jobs", data={**form, "spec": "not json"},
                       headers={"Origin": "http://zkpot.test", "Sec-Fetch-Site": "same-origin"})
    assert same.status_code == 422 and "spec" in same.json()["detail"]


def test_a_session_survives_an_api_restart(api_settings, employer_key):
    first = create_app(api_settings, follow_chain=False, dashboard_dir=None)
    with TestClient(first, base_url="http://zkpot.test") as c:
        headers = sign_in(c, employer_key)
        c.post("/api/auth/verify", json=signed_message(c, employer_key))
        cookie = c.cookies.get("zkpot_session")
    # a new process of the API (nothing in memory carries over): the sessions live in Redis
    second = create_app(api_settings, follow_chain=False, dashboard_dir=None)
    with TestClient(second, base_url="http://zkpot.test") as c:
        assert c.get("/api/auth/me", headers=headers).status_code == 200
        c.cookies.set("zkpot_session", cookie, domain="zkpot.test", path="/api")
        assert c.get("/api/auth/me").json()["address"] == Account.from_key(employer_key).address


def test_sign_in_with_redis_down_is_503_not_500(api_settings, employer_key):
    from zkpot.devnet import free_port

    down = api_settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    with TestClient(create_app(down, follow_chain=False, dashboard_dir=None), base_url="http://zkpot.test") as c:
        r = c.get("/api/auth/nonce", params={"address": Account.from_key(employer_key).address})
        assert r.status_code == 503 and "session store" in r.json()["detail"]
        assert c.get("/api/auth/me", headers={"Authorization": "Bearer x"}).status_code == 503


def test_nonces_are_bounded_a_minute_so_a_flood_cannot_grow_the_session_store(client, monkeypatch):
    # found by an attack: unauthenticated nonce requests each left a key for 10 minutes, unbounded
    monkeypatch.setattr(siwe, "NONCES_PER_MINUTE", 5)
    address = Account.create().address
    answers = [client.get("/api/auth/nonce", params={"address": address}) for _ in range(11)]
    codes = [r.status_code for r in answers]
    assert set(codes) <= {200, 429} and 429 in codes, codes      # 11 in at most two minutes: one is full
    refused = answers[codes.index(429)].json()
    assert "too many sign-ins" in refused["detail"] and "try again in" in refused["detail"]


def test_one_clients_flood_of_nonces_leaves_the_others_signing_in(client, api_settings, monkeypatch):
    # found by an attack on the global bound alone: 600 nonces in 0.3 s locked every wallet out
    monkeypatch.setattr(siwe, "NONCES_PER_CLIENT_MINUTE", 3)
    flood = siwe.SiweAuthority(client.app.state.siwe.redis, "zkpot.test", "http://zkpot.test",
                               prefix="zkpot:test-flood:")
    address = Account.create().address
    codes = []
    for _ in range(7):
        try:
            flood.new_nonce(address, "10.0.0.66")
            codes.append(200)
        except siwe.NoncesExhausted:
            codes.append(429)
    assert 429 in codes                                              # 7 in at most two minutes
    assert flood.new_nonce(address, "10.0.0.7")                      # another client still gets one

