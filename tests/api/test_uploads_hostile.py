"""Hostile uploads: bombs and lying sizes are refused with a reason before they are inflated,
the API's memory stays bounded, and an oversize body is a 413 problem."""

from __future__ import annotations

import json

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from tests.api import hostile
from tests.api.apiprocess import ApiProcess, PeakRss
from zkpot.spec import PRESETS

WINE = json.dumps(PRESETS["wine-mlp"])
BOMBS = {
    "deflate bomb (1 MiB → 1 GiB)": (hostile.deflate_bomb, "declares 1073742"),
    "lying zip sizes": (hostile.lying_bomb, "corrupt"),
    "10^12 declared elements": (hostile.huge_shape, "declares shape (1000000000, 1000)"),
    "object array (pickle)": (hostile.pickled_object_array, "dtype object"),
    "negative dimensions": (hostile.negative_shape, "dimensions are integers >= 0"),
}
MEMORY_LIMIT_MB = 300


def _post(client, auth, data: bytes, name: str = "d.npz"):
    return client.post("/api/jobs", headers=auth, data={"spec": WINE, "reward_per_declaration_wei": "1000"},
                       files={"dataset": (name, data, "application/octet-stream")})


def _store_files(settings) -> list:
    return [p for p in settings.state_dir.rglob("*") if p.is_file()]


@pytest.mark.parametrize("case", BOMBS)
def test_hostile_npz_is_422_with_its_reason_and_stores_nothing(client, auth, api_settings, case):
    build, words = BOMBS[case]
    big = api_settings.model_copy(update={"max_upload_bytes": 4 * 2**20})
    from fastapi.testclient import TestClient

    from api.main import create_app

    with TestClient(create_app(big, follow_chain=False, dashboard_dir=None), base_url="http://zkpot.test") as c:
        r = _post(c, auth, build())
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["detail"].startswith("dataset: ") and words in r.json()["detail"]
    assert _store_files(api_settings) == []


def test_a_body_over_the_limit_is_a_413_problem_whether_declared_or_streamed(client, auth, api_settings):
    limit = api_settings.max_upload_bytes
    r = _post(client, auth, b"0," * (limit * 8), "huge.csv")
    assert r.status_code == 413 and r.headers["content-type"].startswith("application/problem+json")
    assert "over the limit" in r.json()["detail"]

    def chunks():  # no Content-Length: the limit trips while the body streams
        for _ in range(64):
            yield b"x" * limit
    r = client.post("/api/jobs", headers={**auth, "content-type": "multipart/form-data; boundary=b"},
                    content=chunks())
    assert r.status_code == 413 and r.json()["status"] == 413
    assert _store_files(api_settings) == []


def _bearer(url: str, key: str) -> dict[str, str]:
    acct = Account.from_key(key)
    challenge = httpx.get(f"{url}/api/auth/nonce", params={"address": acct.address}).json()
    sig = acct.sign_message(encode_defunct(text=challenge["message"])).signature.to_0x_hex()
    out = httpx.post(f"{url}/api/auth/verify", json={"message": challenge["message"],
                                                      "signature": sig, "bearer": True})
    assert out.status_code == 200, out.text
    return {"Authorization": f"Bearer {out.json()['token']}"}


def test_bombs_leave_the_api_process_under_its_memory_bound(api_settings, employer_key, tmp_path):
    # the API as deployed (its own process, the default 20 MiB upload limit)
    settings = api_settings.model_copy(update={"max_upload_bytes": 20 * 2**20, "siwe_domain": None,
                                               "siwe_uri": None})
    with ApiProcess(settings, tmp_path / "api.log") as api:
        auth = _bearer(api.url, employer_key)
        answers = {}
        with PeakRss(api.proc.pid) as rss:
            for case, (build, _) in BOMBS.items():
                r = httpx.post(f"{api.url}/api/jobs", headers=auth, timeout=120,
                               data={"spec": WINE, "reward_per_declaration_wei": "1000"},
                               files={"dataset": ("d.npz", build(), "application/octet-stream")})
                answers[case] = r.status_code
        print(f"API peak RSS over the bomb cases: {rss.peak_mb:.0f} MB")
    assert all(s == 422 for s in answers.values()), answers
    assert rss.peak_mb < MEMORY_LIMIT_MB, f"{rss.peak_mb:.0f} MB"


def test_deeply_nested_json_is_a_4xx_and_the_api_process_lives(api_settings, employer_key, tmp_path):
    # found by an attack: web3's py_ecc raises the recursion limit to 100,000, so one body of
    # 100,000 '[' overflowed the C stack and killed the process (no answer, then nothing listens)
    settings = api_settings.model_copy(update={"siwe_domain": None, "siwe_uri": None})
    with ApiProcess(settings, tmp_path / "api.log") as api:
        r = httpx.post(f"{api.url}/api/auth/verify", content=b"[" * 100_000, timeout=60,
                       headers={"content-type": "application/json"})
        assert 400 <= r.status_code < 500, r.text
        auth = _bearer(api.url, employer_key)                  # the job form's spec field: within its length
        r = httpx.post(f"{api.url}/api/jobs", headers=auth, timeout=60,
                       data={"spec": "[" * 65_536, "reward_per_declaration_wei": "1000"},
                       files={"dataset": ("d.npz", hostile.negative_shape(), "application/octet-stream")})
        assert r.status_code == 422 and "spec" in r.text, r.text
        assert httpx.get(f"{api.url}/api/status", timeout=30).status_code == 200
        assert api.proc.poll() is None

