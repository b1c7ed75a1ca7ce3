"""The OpenAPI document is complete, and a property-based run (schemathesis) finds no 500."""

from __future__ import annotations

import subprocess
import threading

import pytest
import uvicorn
from fastapi.testclient import TestClient

from api.main import create_app
from tests.api import chainwork
from zkpot.config import PROJECT_ROOT
from zkpot.devnet import free_port, wait_for_port

SCHEMATHESIS = PROJECT_ROOT / ".venv-schemathesis" / "bin" / "schemathesis"


def test_every_operation_documents_its_problems_and_response(client):
    spec = client.get("/openapi.json").json()
    assert "Problem" in spec["components"]["schemas"]
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            codes = set(op["responses"])
            assert any(c.startswith("2") for c in codes), (method, path)
            takes_input = op.get("parameters") or op.get("requestBody")
            if takes_input:
                assert "422" in codes, (method, path)
    create = spec["paths"]["/api/jobs"]["post"]
    assert {"401", "413", "422"} <= set(create["responses"])
    form = create["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["$ref"] or form["properties"]


@pytest.mark.skipif(not SCHEMATHESIS.exists(), reason="tools/bootstrap.sh --test installs .venv-schemathesis")
def test_schemathesis_finds_no_server_error(api_settings):
    chainwork.deploy(api_settings)
    app = create_app(api_settings, follow_chain=True, dashboard_dir=None)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for_port(port)
        out = subprocess.run(
            [str(SCHEMATHESIS), "run", f"http://127.0.0.1:{port}/openapi.json",
             "--checks", "not_a_server_error", "--max-examples", "25", "--workers", "1",
             "--generation-deterministic", "--exclude-path", "/api/events"],
            capture_output=True, text=True, timeout=480)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]
