// One job, live: stage timeline, declarations and reveals, curves, proof, payments, reclaim.
// Every string from the chain or the API goes through html`…` (escaped) and contentLink (a
// link only for a real CID).
import uPlot from "uplot";
import { api } from "../api.js";
import { connect, sendTransaction, signIn, waitForReceipt } from "../wallet.js";
import { formatEth, othersText, stageState } from "../format.js";
import { contentLink, html, render, short } from "../html.js";

const same = (a, b) => String(a || "").toLowerCase() === String(b || "").toLowerCase();

function timeline(job) {
  return job.stages.map((s) => {
    const st = stageState(s, job.quorum);
    const cls = s.finalised ? "final" : s.state === "waiting" ? "waiting" : "declared";
    return html`<li class="stage ${cls}" data-stage="${s.stage}" title="stage ${s.stage}: ${st}">
      <span class="n">S${s.stage}</span><span class="st">${st}</span></li>`;
  });
}

const OUTCOME = { committed: "committed", revealed: "revealed ✓", paid: "revealed ✓", released: "revealed ✓",
  slashed: "slashed" };

function declarations(job) {
  const rows = [];
  for (const s of job.stages) {
    for (const d of s.declarations) {
      const rank = d.position === 255 ? "late" : d.position ? `#${d.position}` : "";
      rows.push(html`<tr class="declaration" data-stage="${s.stage}" data-attempt="${d.attempt}">
        <td>S${s.stage}${d.attempt ? html` <span class="muted">a${d.attempt + 1}</span>` : ""}</td>
        <td class="mono" title="${d.node}">${short(d.node, 4)}</td>
        <td class="mono" title="${d.commitment}">${short(d.commitment)}</td>
        <td class="mono" title="${d.weights_hash || "hidden until opened"}">${d.weights_hash ? short(d.weights_hash) : "–"}</td>
        <td>${OUTCOME[d.status] || d.status} ${rank}</td>
        <td>${d.status === "paid" ? "paid" : d.status === "released" ? "released" : ""}</td></tr>`);
    }
  }
  return rows.length ? html`<table class="decl"><thead><tr><th>stage</th><th>node</th><th>declaration</th><th>H(S)</th>
    <th>opening</th><th>settled</th></tr></thead><tbody>${rows}</tbody></table>`
    : html`<p class="muted">No declarations yet: nodes are training stage 1.</p>`;
}

function reveals(job) {
  const fin = job.stages.filter((s) => s.finalised);
  if (!fin.length) return html`<p class="muted">No stage revealed yet.</p>`;
  return html`<ul class="reveals">${fin.map((s) => html`<li class="reveal" data-stage="${s.stage}">S${s.stage}: ρ
    <span class="mono" title="${s.finalised.rho || ""}">${short(s.finalised.rho || "")}</span>, weights
    ${s.finalised.weights_cid ? contentLink(s.finalised.weights_cid) : short(s.finalised.weights_hash)}
    ${s.failed_attempts ? html`<span class="muted">after ${s.failed_attempts} failed attempt(s)</span>` : ""}
    ${s.slashed.length ? html`<span class="error">${s.slashed.length} slashed</span>` : ""}</li>`)}</ul>`;
}

const STEP = { train: "training", declare: "declaring", reveal: "opening", settle: "settling",
  prove: "proving", submit: "submitting the proof of" };

// Steps nodes gave up after failing the same way several times, in their own words (text only).
function givenUp(job) {
  if (job.given_up === null) return html`<p class="muted" id="given-up">Reports from nodes cannot be read right now.</p>`;
  if (!job.given_up || !job.given_up.length) return "";
  return html`<section class="card" id="given-up"><h2>Given up by nodes</h2><ul>${job.given_up.map((g) => html`
    <li class="given-up" data-stage="${g.stage}" data-node="${g.node}"><span class="mono" title="${g.node}">${short(g.node, 4)}</span>
    stopped ${STEP[g.kind] || g.kind} ${g.stage ? html`stage ${g.stage}` : "the job"}
    (${new Date(g.at * 1000).toLocaleString()}): <span class="reason">${othersText(g.reason)}</span></li>`)}</ul></section>`;
}

function proof(job) {
  if (!job.proofs.length) {
    return html`<p class="muted">${job.status === "proving" ? "Test set published; waiting for the accuracy proof." : "Accuracy proof pending until the last stage is final."}</p>`;
  }
  const items = job.proofs.map((p) => html`<li class="proof" data-shard="${p.shard}">shard ${p.shard}: ${p.correct} correct,
    verified on-chain in block ${p.block} (tx <span class="mono">${short(p.tx)}</span>, by ${short(p.submitter, 4)})</li>`);
  const verdict = job.status === "complete" ? html`<p class="ok" id="proof-verified">Accuracy proven: ${job.correct} correct predictions.</p>`
    : job.status === "failed" ? html`<p class="error">The proven accuracy missed the threshold.</p>` : "";
  return html`${verdict}<ul>${items}</ul>`;
}

async function plot(el, job) {
  const box = el.querySelector("#curves");
  let curves;
  try {
    curves = await api.curves(job.job_id);
  } catch (e) {
    render(box, html`<p class="error">${e.message}</p>`);
    return;
  }
  const pts = curves.points;
  if (!pts.length) {
    render(box, html`<p class="muted">${curves.reason || "Curves appear as stages are finalised."}</p>`);
    return;
  }
  render(box, html`<p class="muted" id="curves-note">Mean loss of each finalised stage on its chunk;
    accuracy on the ${curves.evaluated_on}.</p>
    <table class="curve-points" hidden>${pts.map((p) => html`<tr class="curve-point" data-stage="${p.stage}"
      data-loss="${p.mean_loss}" data-accuracy="${p.accuracy}"></tr>`)}</table>`);
  const xs = pts.map((p) => p.stage);
  const loss = pts.map((p) => p.mean_loss);
  const acc = pts.map((p) => 100 * p.accuracy);
  new uPlot({
    width: Math.min(720, box.clientWidth || 720), height: 240,
    scales: { x: { time: false }, acc: { range: [0, 100] } },
    axes: [{ label: "stage" }, { label: "mean loss" }, { scale: "acc", side: 1, label: "accuracy %", grid: { show: false } }],
    series: [{ label: "stage" },
      { label: "mean loss", stroke: "#c0392b", width: 2, points: { show: true } },
      { label: "accuracy %", scale: "acc", stroke: "#2471a3", width: 2, points: { show: true } }],
  }, [xs, loss, acc], box);
}

async function act(el, id, state, run) {
  const msg = el.querySelector("#job-msg");
  try {
    await run();
    await renderJob(el, id, state);
  } catch (e) {
    render(msg, html`<p class="error" role="alert">${e.message}</p>`);
  }
}

const allows = (job, name) => job.actions.some((a) => a.name === name);

function summary(job, state) {
  const mine = state.account && same(state.account, job.employer);
  const awaiting = mine && allows(job, "publish_test_shard");
  return html`
    <section class="card summary">
      <dl>
        <dt>employer</dt><dd class="mono">${job.employer}</dd>
        <dt>manifest</dt><dd class="mono" id="manifest">${job.manifest_cid ? contentLink(job.manifest_cid, { download: false, n: 10 }) : ""} ${short(job.manifest_hash)}</dd>
        <dt>stages</dt><dd><span id="stages-final">${job.stages_final}</span> of ${job.stage_count} final, C = ${job.quorum}</dd>
        <dt>escrow</dt><dd>${formatEth(job.deposit)} (${formatEth(job.reward_per_declaration)} per paid declaration, C per stage)${job.theta != null ? html`, θ = ${job.theta}` : ""}</dd>
        <dt>paid</dt><dd>${formatEth(job.paid)}</dd>
        <dt>deadline</dt><dd>${new Date(job.deadline * 1000).toLocaleString()}</dd>
        <dt>waiting for</dt><dd id="waiting-for">${job.waiting_for}</dd>
      </dl>
      ${mine && job.can_reclaim ? html`<button id="reclaim" type="button">Reclaim unearned escrow</button>` : ""}
      ${awaiting ? html`<button id="publish-test-set" type="button">Publish the test set</button>
        <p class="muted">Every stage is final: publish the test set you kept private so nodes can prove the model's accuracy.</p>` : ""}
      ${job.test_shards.length ? html`<p id="test-set-line">Test set on chain: ${job.test_shards.length} shard(s),
        ${job.test_shards.map((t) => html`<span class="mono" title="${t.data_hash}">${short(t.data_hash)}</span> `)}</p>` : ""}
      <div id="job-msg">${state.jobMessage || ""}</div>
    </section>`;
}

export async function renderJob(el, id, state) {
  let job;
  try {
    job = await api.job(id);
  } catch (e) {
    render(el, html`<p class="error" role="alert">${e.message}</p>`);
    return;
  }
  render(el, html`
    <h1>Job #${job.job_id} <span class="badge ${job.status}" id="job-status">${job.status}</span></h1>
    ${summary(job, state)}
    ${givenUp(job)}
    <h2>Stage timeline</h2>
    <ol class="timeline" id="timeline">${timeline(job)}</ol>
    <h2>Loss and accuracy</h2>
    <div id="curves" class="card"></div>
    <h2>Declarations</h2>
    ${declarations(job)}
    <h2>Reveals</h2>
    ${reveals(job)}
    <h2>Accuracy proof</h2>
    <section class="card" id="proof">${proof(job)}</section>
    ${job.final_model_cid ? html`<p id="final-model-line">${contentLink(job.final_model_cid, { id: "final-model", label: "Download the final model" })}</p>` : ""}`);
  const reclaim = el.querySelector("#reclaim");
  if (reclaim) {
    reclaim.addEventListener("click", () => act(el, id, state, async () => {
      const from = state.account || (await connect());
      const tx = await api.reclaimTx(job.job_id);
      await waitForReceipt(await sendTransaction(from, tx));
      state.jobMessage = html`<p class="ok">Escrow reclaimed; withdraw it from the Operators page.</p>`;
    }));
  }
  const publish = el.querySelector("#publish-test-set");
  if (publish) {
    publish.addEventListener("click", () => act(el, id, state, async () => {
      publish.disabled = true;
      const from = state.account || (await connect());
      await signIn(from);
      const out = await api.publishTestSet(job.job_id);
      // one transaction per shard, each mined before the next is estimated
      for (const hash of out.tx_hashes) await waitForReceipt(hash);
      if (!out.tx_hashes.length) {
        for (const tx of out.transactions) await waitForReceipt(await sendTransaction(from, tx));
      }
      state.jobMessage = html`<p class="ok" id="test-set-published">Test set published on chain (${out.shards} shard(s)); nodes can now prove accuracy.</p>`;
    }));
  }
  await plot(el, job);
}
