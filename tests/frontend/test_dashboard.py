"""The dashboard in a real headless Chromium against the real API and Anvil."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from eth_account import Account
from playwright.sync_api import expect

from tests.api import chainwork
from zkpot.hashing import keccak

EMPLOYER = Account.from_key(chainwork.KEYS[0]).address


def test_bad_upload_shows_the_reason(live_api, wallet_page, screenshot, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(f"{i * 0.1},{'nan' if i == 4 else 1.0},{i % 3}" for i in range(12)))
    page = wallet_page(EMPLOYER)
    page.goto(f"{live_api}/#/post")
    page.locator("#dataset-file").set_input_files(str(bad))
    expect(page.locator('input[name=source][value=upload]')).to_be_checked()
    page.click("#submit-job")
    error = page.locator("#post-result .error")
    expect(error).to_contain_text("NaN")
    expect(error).to_contain_text("sample 4")
    screenshot(page, "post-error")


def test_job_progress_appears_live(live_api, wallet_page, screenshot, api_settings, deployed):
    nodes = chainwork.node_clients(api_settings, deployed, 2)
    chainwork.register(nodes)
    job_id = chainwork.create_job(api_settings, deployed, stages=3, confirmations=2)
    page = wallet_page(EMPLOYER)
    page.goto(f"{live_api}/#/jobs/{job_id}")
    expect(page.locator("#job-status")).to_have_text("training")
    stage1 = page.locator('#timeline .stage[data-stage="1"]')
    expect(stage1).to_contain_text("waiting")

    # real declarations on Anvil while the page is open: they appear without a reload
    rho, wh = os.urandom(32), keccak(b"stage 1 weights")
    openings = chainwork.declare_stage(nodes, job_id, 1, wh, rho, "bafkreistageoneweights")
    expect(stage1).to_contain_text("declared 2/3")
    expect(page.locator('tr.declaration[data-stage="1"]')).to_have_count(2)
    expect(page.locator('tr.declaration[data-stage="1"]').first).to_contain_text("committed")

    chainwork.reveal_stage(api_settings, nodes, job_id, 1, openings)
    expect(stage1).to_contain_text("final")
    expect(page.locator("#stages-final")).to_have_text("1")
    expect(page.locator('tr.declaration[data-stage="1"]').first).to_contain_text("revealed")
    expect(page.locator('.reveal[data-stage="1"]')).to_contain_text(rho.hex()[:6])
    for esc, _ in nodes:     # each node settles its declaration: its reward is credited
        esc.settle(job_id, esc.client.address)
    expect(page.locator('tr.declaration[data-stage="1"]').first).to_contain_text("paid")

    rho2 = os.urandom(32)
    chainwork.declare_stage(nodes, job_id, 2, keccak(b"stage 2 weights"), rho2, "bafkreistagetwoweights")
    expect(page.locator('#timeline .stage[data-stage="2"]')).to_contain_text("declared 2/3")
    screenshot(page, "job")

    jobs = wallet_page(EMPLOYER)
    jobs.goto(f"{live_api}/#/jobs")
    expect(jobs.locator(f'tr[data-job="{job_id}"]')).to_contain_text("1/3")
    screenshot(jobs, "jobs")

    # the operator of node 1 sees its reward and withdraws it with its wallet
    node = nodes[0][0].client.address
    op = wallet_page(node)
    op.goto(f"{live_api}/#/operators")
    expect(op.locator("#account")).to_be_visible()
    expect(op.locator("#pending")).to_contain_text("0.001 ETH")
    expect(op.locator(f'tr.node[data-node="{node}"]')).to_contain_text("active")
    screenshot(op, "operators")
    op.click("#withdraw")
    expect(op.locator("#op-msg")).to_contain_text("Withdrawn")
    assert nodes[0][0].credit_of(node) == 0
    expect(op.locator("#pending")).to_contain_text("0 ETH")


def test_post_job_with_the_wallet_creates_it_on_chain(live_api, wallet_page, screenshot, api_settings, deployed):
    page = wallet_page(EMPLOYER)
    page.goto(f"{live_api}/#/post")
    page.select_option("#demo-dataset", "wine")
    page.select_option("#preset", "wine-mlp")
    page.fill("#reward", "0.001")
    page.fill("#quorum", "2")
    page.fill("#theta", "0.5")
    page.click("#advanced summary")
    catalog = page.request.get(f"{live_api}/api/catalog").json()["defaults"]
    expect(page.locator("#stage-flops")).to_have_value(str(catalog["stage_flops"]))
    expect(page.locator("#shard-size")).to_have_value(str(catalog["shard_size"]))
    page.fill("#stage-flops", "400000")
    page.fill("#shard-size", "16")
    screenshot(page, "post")
    page.click("#submit-job")
    # signs in (personal_sign), uploads, then eth_sendTransaction of createJob through the wallet
    link = page.locator("#new-job")
    expect(link).to_be_visible(timeout=240_000)
    job_id = int(link.inner_text().lstrip("#"))
    escrow = chainwork.JobEscrowClient(chainwork.ChainClient(api_settings.rpc_url), deployed.escrow)
    view = escrow.get_job(job_id)
    assert view.employer == EMPLOYER and view.confirmations == 2
    assert view.reward == 10**15
    # the advanced fields reached the server: Δ = 400,000 FLOPs cuts wine into 6 stages, N = 16
    assert view.stages == 6 and view.samples == 32 and view.shard_count == 2
    link.click()
    expect(page.locator("#job-status")).to_have_text("training")
    expect(page.locator("#timeline .stage")).to_have_count(view.stages)


def test_curves_and_publishing_the_test_set_after_real_stages(live_api, wallet_page, screenshot, api_settings, deployed):
    nodes = chainwork.node_clients(api_settings, deployed, 2)
    chainwork.register(nodes)
    # the zk pipeline is synchronous: run it off the browser driver's event loop
    with ThreadPoolExecutor(1) as pool:
        job_id, prepared = pool.submit(chainwork.create_prepared_job, api_settings, deployed).result()
    page = wallet_page(EMPLOYER)
    page.goto(f"{live_api}/#/jobs/{job_id}")
    expect(page.locator("#job-status")).to_have_text("training")
    expect(page.locator("#publish-test-set")).to_have_count(0)

    # nodes train every stage for real; the curves follow from the stored weights
    chainwork.train_and_finalise(api_settings, deployed, nodes, job_id, prepared.manifest)
    expect(page.locator("#job-status")).to_have_text("awaiting-test-set")
    expect(page.locator("#curves .curve-point")).to_have_count(prepared.manifest.stages)
    expect(page.locator("#curves canvas")).to_have_count(1)
    expect(page.locator("#curves-note")).to_contain_text("training set")

    # the employer publishes the private test set with the wallet (signs in, then the tx)
    page.click("#publish-test-set")
    expect(page.locator("#test-set-published")).to_be_visible(timeout=60_000)
    expect(page.locator("#job-status")).to_have_text("proving")
    escrow = chainwork.JobEscrowClient(chainwork.ChainClient(api_settings.rpc_url), deployed.escrow)
    assert escrow.get_job(job_id).status == chainwork.JobStatus.PROVING
    # the wallet posted every shard on chain: the page lists them by their committed hashes
    expect(page.locator("#test-set-line")).to_contain_text(f"{len(prepared.params.shard_commitments)} shard(s)")
    assert escrow.published_shards(job_id) == list(range(len(prepared.params.shard_commitments)))
    # accuracy is now measured on the published test set
    expect(page.locator("#curves-note")).to_contain_text("test set")
    screenshot(page, "job-curves")
    # the sign-in left an HttpOnly, SameSite=Strict cookie: no page script can read the session
    session = [c for c in page.context.cookies() if c["name"] == "zkpot_session"]
    assert len(session) == 1 and session[0]["httpOnly"] and session[0]["sameSite"] == "Strict"
    assert "zkpot_session" not in page.evaluate("document.cookie")
    stored = page.evaluate("JSON.stringify([Object.values(sessionStorage), Object.values(localStorage)])")
    assert session[0]["value"] not in stored
