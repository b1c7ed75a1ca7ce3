"""Hostile strings in every on-chain string field the dashboard shows run no script.

A manifest CID (any employer can pick it in createJob) and the weights CID a node opens its
declaration with (also the finalised stage's, and the final model's, CID) are free-form strings
on chain. Each carries a payload that would set ``window.__pwned`` or open an alert if it
reached the page as markup or as a link; the page must show it as text, link nothing that is
not a CID, and be served with a strict Content-Security-Policy. A node's given-up report (its
own words, signed, not on chain) carries one too. (The test set is posted as
bytes whose hash the job committed to: no string of it is shown.)
"""

from __future__ import annotations

import os
import time

import httpx
from eth_account import Account
from playwright.sync_api import expect

from tests.api import chainwork
from zkpot.hashing import keccak
from zkpot.node.given_up import GivenUpReport

EMPLOYER = Account.from_key(chainwork.KEYS[0]).address
PAYLOADS = {
    "manifest": '"><img src=x onerror="window.__pwned=\'manifest\'"><script>window.__pwned="m"</script>',
    "weights": "javascript:window.__pwned='weights'//<svg/onload=alert('weights')>",
    # and (found by an attack) a word too long for any card, and a direction control
    "reason": "</span><img src=x onerror=\"window.__pwned='reason'\">RuntimeError: <b>bold</b> photo\u202egnp.exe "
              + "x" * 200,
}


def _job_with_hostile_strings(settings, deployed) -> int:
    nodes = chainwork.node_clients(settings, deployed, 2)
    chainwork.register(nodes)
    job_id = chainwork.create_job(settings, deployed, stages=1, confirmations=2,
                                  manifest_cid=PAYLOADS["manifest"])
    rho = os.urandom(32)
    openings = chainwork.declare_stage(nodes, job_id, 1, keccak(b"weights"), rho, PAYLOADS["weights"])
    chainwork.reveal_stage(settings, nodes, job_id, 1, openings)
    employer = chainwork.JobEscrowClient(chainwork.ChainClient(settings.rpc_url, chainwork.KEYS[0]),
                                         deployed.escrow)
    employer.publish_test_shard(job_id, 0, chainwork.TEST_SHARD)
    return job_id


def _indexed(live_api: str, job_id: int) -> dict:
    """The job once the API's index has read its test-set publication (polls every 0.5 s)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r = httpx.get(f"{live_api}/api/jobs/{job_id}")
        if r.status_code == 200 and r.json()["test_shards"]:
            return r.json()
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} was not indexed")


def _report_given_up(live_api: str, settings, deployed, job_id: int) -> None:
    """Node 1 reports stage 1 given up, in hostile words, as its worker would."""
    node = Account.from_key(chainwork.KEYS[1])
    chain_id = chainwork.ChainClient(settings.rpc_url, chainwork.KEYS[0]).chain_id
    report = GivenUpReport.of(node.address, chain_id, deployed.escrow, job_id, 1, "train",
                              PAYLOADS["reason"], int(time.time()))
    r = httpx.post(f"{live_api}/api/nodes/{node.address}/given-up",
                   json={"job_id": job_id, "stage": 1, "kind": "train", "reason": report.reason,
                         "at": report.at, "signature": report.sign(node)})
    assert r.status_code == 201, r.text


def test_hostile_cids_are_shown_as_text_and_run_nothing(live_api, wallet_page, api_settings, deployed):
    job_id = _job_with_hostile_strings(api_settings, deployed)
    # the API hands the strings out as they are on chain: only the page must not run them
    job = _indexed(live_api, job_id)
    _report_given_up(live_api, api_settings, deployed, job_id)
    assert job["manifest_cid"] == PAYLOADS["manifest"]
    assert job["stages"][0]["finalised"]["weights_cid"] == PAYLOADS["weights"]
    assert job["final_model_cid"] == PAYLOADS["weights"]
    assert {d["status"] for d in job["stages"][0]["declarations"]} == {"revealed"}
    assert httpx.get(f"{live_api}/api/jobs/{job_id}").json()["given_up"][0]["reason"] == PAYLOADS["reason"]

    page = wallet_page(EMPLOYER)
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    response = page.goto(f"{live_api}/#/jobs/{job_id}")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator("#job-status")).to_have_text("proving")
    expect(page.locator('.reveal[data-stage="1"]')).to_be_visible()
    assert page.evaluate("window.__pwned") is None and dialogs == []
    # none of them became an element, a link or a script
    assert page.locator("#view img, #view iframe, #view svg, #view script").count() == 0
    hrefs = page.eval_on_selector_all("#view a[href]", "els => els.map(e => e.getAttribute('href'))")
    assert not [h for h in hrefs if "javascript" in h.lower() or "<" in h or '"' in h], hrefs
    # each is shown as text (shortened), the whole string in the title, never a link
    for where, name in (('.reveal[data-stage="1"]', "weights"), ("#manifest", "manifest"),
                        ("#final-model-line", "weights")):
        shown = page.locator(f"{where} .not-cid")
        expect(shown).to_have_attribute("title", "not a content ID: " + PAYLOADS[name])
        expect(shown).to_contain_text(PAYLOADS[name][:8])
    assert page.locator("#test-set, #final-model").count() == 0   # not CIDs: no download link
    expect(page.locator('.given-up[data-stage="1"] .reason')).to_have_text(PAYLOADS["reason"].replace("\u202e", "\ufffd"))
    assert page.locator("#given-up b").count() == 0
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")     # it wraps
    # the live refresh re-renders the page from the event stream: still nothing runs
    page.reload()
    expect(page.locator("#job-status")).to_have_text("proving")
    page.wait_for_function("document.querySelector('#live-status').dataset.live === '1'")
    assert page.evaluate("window.__pwned") is None and dialogs == []


def test_csp_blocks_an_injected_inline_handler(live_api, wallet_page):
    page = wallet_page(EMPLOYER)
    violations = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(f"{live_api}/#/jobs")
    expect(page.locator("#view h1")).to_have_text("Jobs")
    # markup that bypassed escaping (it cannot: this is the second line of defence) runs nothing
    page.evaluate("""document.body.insertAdjacentHTML('beforeend',
        '<img id=probe src=data:, onerror="window.__pwned=1"><a id=js href="javascript:window.__pwned=2">x</a>')""")
    page.click("#js")
    page.wait_for_timeout(200)
    assert page.evaluate("window.__pwned") is None
    assert violations, "the browser reported no CSP violation"


def test_every_response_carries_the_security_headers(live_api):
    index = httpx.get(f"{live_api}/")
    asset = next(p for p in index.text.split('"') if p.startswith("/assets/") and p.endswith(".js"))
    for path in ("/", asset, "/api/jobs", "/api/jobs/999999", "/api/content/bnot-a-cid", "/docs",
                 "/openapi.json"):
        r = httpx.get(f"{live_api}{path}")
        csp = r.headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in csp and "unsafe-eval" not in csp, (path, csp)
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["x-frame-options"] == "DENY", path
        assert r.headers["referrer-policy"] == "no-referrer", path
    assert "script-src 'self'" in httpx.get(f"{live_api}/").headers["content-security-policy"]
