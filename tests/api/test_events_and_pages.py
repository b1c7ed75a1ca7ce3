"""Live events resume where a client left off and end when the API stops; lists are pages."""

from __future__ import annotations

import json
import signal
import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from tests.api import chainwork
from tests.api.apiprocess import ApiProcess, event_stream, wait_indexed


@pytest.fixture
def deployed(api_settings):
    return chainwork.deploy(api_settings)


@pytest.fixture
def app(api_settings, deployed):
    return create_app(api_settings, follow_chain=False, dashboard_dir=None)


def _replay(url: str, **kwargs) -> list[int]:
    """The seqs of the chain events replayed before ``ready``."""
    seqs = []
    with event_stream(url, **kwargs) as r:
        assert r.status_code == 200, r.read()
        for line in r.iter_lines():
            if line.startswith("id:"):
                seqs.append(int(line[3:]))
            if line.startswith("event: ready"):
                break
    return seqs


def test_events_resume_after_the_last_event_id(api_settings, deployed, tmp_path):
    ids = [chainwork.create_job(api_settings, deployed) for _ in range(3)]
    with ApiProcess(api_settings, tmp_path / "api.log") as api:
        wait_indexed(api.url, ids)
        everything = _replay(api.url)
        total = len(everything)
        assert total >= 3 and everything == list(range(total))
        # a reconnecting EventSource sends the id of the last event it received
        assert _replay(api.url, headers={"Last-Event-ID": "1"}) == list(range(2, total))
        assert _replay(api.url, params={"after": 0}) == list(range(1, total))
        # a reconnection to a URL with ?after= still resumes after what it received
        assert _replay(api.url, params={"after": 0}, headers={"Last-Event-ID": str(total - 1)}) == []
        for hostile in (b"x; drop", b"\xb2", b"1\xb3"):                 # '\xb2' is '²': a digit to str.isdigit
            bad = httpx.get(f"{api.url}/api/events", headers={"Last-Event-ID": hostile}, timeout=10)
            assert bad.status_code == 422 and "Last-Event-ID" in bad.json()["detail"], hostile


def test_job_and_node_lists_are_pages_with_bounds(app, api_settings, deployed):
    ids = [chainwork.create_job(api_settings, deployed) for _ in range(3)]
    nodes = chainwork.node_clients(api_settings, deployed, 3)
    chainwork.register(nodes)
    app.state.index.poll_once()
    client = TestClient(app)
    first = client.get("/api/jobs", params={"limit": 2}).json()
    assert [j["job_id"] for j in first["items"]] == ids[::-1][:2] and first["next_cursor"] == str(ids[1])
    rest = client.get("/api/jobs", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [j["job_id"] for j in rest["items"]] == [ids[0]] and rest["next_cursor"] is None
    for bad in ({"limit": 0}, {"limit": 201}, {"cursor": "-1"}, {"cursor": "1 OR 1=1"}):
        assert client.get("/api/jobs", params=bad).status_code == 422, bad

    page = client.get("/api/nodes", params={"limit": 2}).json()
    assert len(page["items"]) == 2 and page["next_cursor"] == page["items"][-1]["address"]
    more = client.get("/api/nodes", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    seen = [n["address"] for n in page["items"] + more["items"]]
    assert len(seen) == len(set(seen)) == 3 and more["next_cursor"] is None
    assert client.get("/api/nodes", params={"cursor": "0x12"}).status_code == 422

    stages = client.get(f"/api/jobs/{ids[0]}", params={"stages_from": 2, "stages_limit": 1}).json()["stages"]
    assert [s["stage"] for s in stages] == [2]
    assert client.get(f"/api/jobs/{ids[0]}", params={"stages_limit": 0}).status_code == 422


def _follow(url: str, seen: list, ready: threading.Event) -> None:
    with httpx.stream("GET", f"{url}/api/events", timeout=httpx.Timeout(5, read=120)) as r:
        for line in r.iter_lines():
            seen.append(line)
            if line.startswith("event: ready"):
                ready.set()
    seen.append("<closed>")


def test_sigterm_stops_the_api_with_event_streams_open(api_settings, deployed, tmp_path):
    with ApiProcess(api_settings, tmp_path / "api.log") as api:
        streams = []
        for _ in range(3):  # three dashboard tabs
            seen, ready = [], threading.Event()
            thread = threading.Thread(target=_follow, args=(api.url, seen, ready), daemon=True)
            thread.start()
            streams.append((seen, ready, thread))
        for seen, ready, _ in streams:
            assert ready.wait(60), seen
        # a job created now reaches the open streams live
        job_id = chainwork.create_job(api_settings, deployed)
        for seen, _, _ in streams:
            assert _wait_for(lambda: any(_is_created(line, job_id) for line in list(seen))), seen
        code = api.terminate(timeout=60)
        # uvicorn shuts down gracefully, then re-raises the signal it caught: exit by SIGTERM
        assert code is not None, "the API did not stop on SIGTERM with streams open"
        assert code in (0, -signal.SIGTERM), code
        for seen, _, thread in streams:
            thread.join(timeout=60)
            # the server ended each stream cleanly (a killed server would reset the connection)
            assert not thread.is_alive() and seen[-1] == "<closed>"


def _is_created(line: str, job_id: int) -> bool:
    if not line.startswith("data:"):
        return False
    event = json.loads(line[5:])
    return isinstance(event, dict) and event.get("name") == "JobCreated" and event.get("job_id") == job_id


def _wait_for(condition, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_a_session_survives_a_restart_of_the_api_process(api_settings, employer_key, tmp_path):
    from tests.api.test_uploads_hostile import _bearer

    settings = api_settings.model_copy(update={"siwe_domain": None, "siwe_uri": None})
    api = ApiProcess(settings, tmp_path / "api.log").start()
    try:
        auth = _bearer(api.url, employer_key)
        assert httpx.get(f"{api.url}/api/auth/me", headers=auth).status_code == 200
        assert api.terminate(timeout=60) in (0, -signal.SIGTERM)
    finally:
        api.stop()
    with ApiProcess(settings, tmp_path / "api2.log", port=api.port) as again:
        me = httpx.get(f"{again.url}/api/auth/me", headers=auth)
        assert me.status_code == 200, me.text
