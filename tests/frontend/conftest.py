"""Dashboard tests: the API (serving the built dashboard) on a free port, real Anvil and
Redis, and a real headless Chromium whose wallet is a small injected EIP-1193 provider
forwarding every request to Anvil's unlocked dev accounts. The provider reaches Anvil through
a Playwright binding (as an extension wallet would, outside the page), so the dashboard's
Content-Security-Policy (connect-src 'self') is in force exactly as users get it.

The tests write the screenshots in docs/ only when asked (``ZKPOT_SCREENSHOTS=1``, which
``make screenshots`` sets); otherwise a run leaves the working tree as it was. A failing test
leaves a screenshot of each page it had open under ``$ZKPOT_STATE_DIR/logs/dashboard/``.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path

import pytest
import uvicorn

from api.main import DASHBOARD_DIR, create_app
from tests.api import chainwork
from zkpot.config import PROJECT_ROOT
from zkpot.devnet import free_port, wait_for_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
DOCS = PROJECT_ROOT / "docs"
WRITE_SCREENSHOTS = os.environ.get("ZKPOT_SCREENSHOTS", "") not in ("", "0")
FAILURE_SHOTS = PROJECT_ROOT / os.environ.get("ZKPOT_STATE_DIR", ".zkpot") / "logs" / "dashboard"
_call_report = pytest.StashKey[pytest.TestReport]()

# The wallet: eth_requestAccounts/eth_accounts answer the chosen dev account; everything else
# (personal_sign, eth_sendTransaction, receipts) goes to Anvil, which signs for its unlocked dev
# accounts, through the zkpotWalletRpc binding (Python side: ``_forward``).
PROVIDER_JS = """
(() => {
  const account = %(account)r;
  window.ethereum = {
    isZkpotTestWallet: true,
    async request({method, params}) {
      if (method === 'eth_requestAccounts' || method === 'eth_accounts') return [account];
      const out = JSON.parse(await window.zkpotWalletRpc(method, JSON.stringify(params || [])));
      if (out.error) { const e = new Error(out.error.message); e.code = out.error.code; throw e; }
      return out.result;
    },
    on() {}, removeListener() {},
  };
})();
"""


def _forward(rpc_url: str):
    import httpx

    calls = iter(range(1, 10**9))

    def forward(_source, method: str, params: str) -> str:
        body = {"jsonrpc": "2.0", "id": next(calls), "method": method, "params": json.loads(params)}
        return httpx.post(rpc_url, json=body, timeout=60).text

    return forward


def _build_dashboard() -> Path:
    if not (DASHBOARD_DIR / "index.html").is_file():
        subprocess.run(["npm", "run", "--prefix", str(PROJECT_ROOT / "frontend"), "build", "--silent"],
                       check=True)
    return DASHBOARD_DIR


@pytest.fixture
def api_port() -> int:
    return free_port()


@pytest.fixture
def api_settings(settings, anvil, redis_server, circuit_cache, api_port):
    # the dashboard's origin is http://127.0.0.1:<port>: SIWE's domain and URI default to it
    return settings.model_copy(update={"rpc_url": anvil.rpc_url, "redis_url": redis_server.url,
                                       "max_upload_bytes": 256 * 1024, "circuit_dir": circuit_cache,
                                       "api_host": "127.0.0.1", "api_port": api_port})


@pytest.fixture
def deployed(api_settings):
    return chainwork.deploy(api_settings)


@pytest.fixture
def live_api(api_settings, deployed, api_port):
    """The gateway (following the chain) and the dashboard on a free loopback port."""
    app = create_app(api_settings, follow_chain=True, dashboard_dir=_build_dashboard())
    port = api_port
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for_port(port)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=15)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.stash[_call_report] = report
    return report


@pytest.fixture
def screenshot():
    """``screenshot(page, name)`` refreshes docs/dashboard-<name>.png when ZKPOT_SCREENSHOTS=1."""

    def take(page, name: str) -> None:
        if WRITE_SCREENSHOTS:
            page.screenshot(path=str(DOCS / f"dashboard-{name}.png"), full_page=True)

    return take


def _keep_failure_shots(test: str, pages) -> None:
    """What each page of a failed test showed, for debugging (not part of the docs)."""
    from playwright.sync_api import Error

    FAILURE_SHOTS.mkdir(parents=True, exist_ok=True)
    for i, page in enumerate(pages):
        try:
            page.screenshot(path=str(FAILURE_SHOTS / f"{test}-{i}.png"), full_page=True)
        except Error:  # a crashed or closed page has nothing to show
            pass


@pytest.fixture
def wallet_page(request, browser, anvil):
    """A page whose window.ethereum is the dev account ``account`` (set via ``open``)."""
    contexts = []

    def open_as(account: str):
        ctx = browser.new_context(viewport={"width": 1200, "height": 900})
        ctx.expose_binding("zkpotWalletRpc", _forward(anvil.rpc_url))
        ctx.add_init_script(PROVIDER_JS % {"account": account})
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(30_000)
        return page

    yield open_as
    report = request.node.stash.get(_call_report, None)
    if report is not None and report.failed:
        _keep_failure_shots(request.node.name, [page for ctx in contexts for page in ctx.pages])
    for ctx in contexts:
        ctx.close()
