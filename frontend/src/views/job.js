// One job, live: stage timeline, declarations and reveals, curves, proof, payments, reclaim.
import uPlot from "uplot";
import { api } from "../api.js";
import { connect, sendTransaction, signIn, waitForReceipt } from "../wallet.js";
import { escapeHtml, formatEth, short, stageState } from "../format.js";

function timeline(job) {
  return job.stages.map((s) => {
    const st = stageState(s, job.quorum);
    const cls = s.finalised ? "final" : s.declarations.length ? "declared" : "waiting";
    return `<li class="stage ${cls}" data-stage="${s.stage}" title="stage ${s.stage}: ${st}">
      <span class="n">S${s.stage}</span><span class="st">${st}</span></li>`;
  }).join("");
}

function declarations(job) {
  const rows = [];
  for (const s of job.stages) {
    for (const d of s.declarations) {
      const paid = s.paid.some((a) => a.toLowerCase() === d.node.toLowerCase());
      const slashed = s.slashed.some((x) => (x.node || "").toLowerCase() === d.node.toLowerCase());
      rows.push(`<tr class="declaration" data-stage="${s.stage}">
        <td>S${s.stage}</td><td class="mono" title="${d.node}">${short(d.node, 4)}</td>
        <td class="mono" title="${d.weights_hash}">${short(d.weights_hash)}</td>
        <td class="mono" title="${d.commitment}">${short(d.commitment)}</td>
        <td>${s.finalised ? (slashed ? "slashed" : "revealed ✓") : "committed"}</td>
        <td>${paid ? "paid" : ""}</td></tr>`);
    }
  }
  return rows.length ? `<table class="decl"><thead><tr><th>stage</th><th>node</th><th>H(S)</th><th>commitment</th>
    <th>reveal</th><th>payment</th></tr></thead><tbody>${rows.join("")}</tbody></table>`
    : `<p class="muted">No declarations yet: nodes are training stage 1.</p>`;
}

function reveals(job) {
  const fin = job.stages.filter((s) => s.finalised);
  if (!fin.length) return `<p class="muted">No stage revealed yet.</p>`;
  return `<ul class="reveals">${fin.map((s) => `<li class="reveal" data-stage="${s.stage}">S${s.stage}: ρ
    <span class="mono" title="${s.finalised.rho || ""}">${short(s.finalised.rho || "")}</span>, weights
    ${s.finalised.weights_cid ? `<a href="/api/content/${s.finalised.weights_cid}" download>${short(s.finalised.weights_cid, 8)}</a>` : short(s.finalised.weights_hash)}
    ${s.conflicts.length ? `<span class="error">${s.conflicts.length} conflict(s)</span>` : ""}</li>`).join("")}</ul>`;
}

function proof(job) {
  if (!job.proofs.length) {
    return `<p class="muted">${job.test_set_cid ? "Test set published; waiting for the accuracy proof." : "Accuracy proof pending until the last stage is final."}</p>`;
  }
  const items = job.proofs.map((p) => `<li class="proof" data-shard="${p.shard}">shard ${p.shard}: ${p.correct} correct,
    verified on-chain in block ${p.block} (tx <span class="mono">${short(p.tx)}</span>, by ${short(p.submitter, 4)})</li>`).join("");
  const verdict = job.status === "complete" ? `<p class="ok" id="proof-verified">Accuracy proven: ${job.correct} correct predictions.</p>`
    : job.status === "failed" ? `<p class="error">The proven accuracy missed the threshold.</p>` : "";
  return `${verdict}<ul>${items}</ul>`;
}

async function plot(el, job) {
  const box = el.querySelector("#curves");
  let curves;
  try {
    curves = await api.curves(job.job_id);
  } catch (e) {
    box.innerHTML = `<p class="error">${escapeHtml(e.message)}</p>`;
    return;
  }
  const pts = curves.points;
  if (!pts.length) {
    box.innerHTML = `<p class="muted">${escapeHtml(curves.reason || "Curves appear as stages are finalised.")}</p>`;
    return;
  }
  box.innerHTML = `<p class="muted" id="curves-note">Mean loss of each finalised stage on its chunk;
    accuracy on the ${escapeHtml(curves.evaluated_on)}.</p>
    <table class="curve-points" hidden>${pts.map((p) => `<tr class="curve-point" data-stage="${p.stage}"
      data-loss="${p.mean_loss}" data-accuracy="${p.accuracy}"></tr>`).join("")}</table>`;
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
    msg.innerHTML = `<p class="error" role="alert">${escapeHtml(e.message)}</p>`;
  }
}

export async function renderJob(el, id, state) {
  let job;
  try {
    job = await api.job(id);
  } catch (e) {
    el.innerHTML = `<p class="error" role="alert">${escapeHtml(e.message)}</p>`;
    return;
  }
  const mine = state.account && state.account.toLowerCase() === job.employer.toLowerCase();
  el.innerHTML = `
    <h1>Job #${job.job_id} <span class="badge ${job.status}" id="job-status">${job.status}</span></h1>
    <section class="card summary">
      <dl>
        <dt>employer</dt><dd class="mono">${job.employer}</dd>
        <dt>manifest</dt><dd class="mono">${job.manifest_cid ? `<a href="/api/content/${job.manifest_cid}">${short(job.manifest_cid, 10)}</a>` : ""} ${short(job.manifest_hash)}</dd>
        <dt>stages</dt><dd><span id="stages-final">${job.stages_final}</span> of ${job.stage_count} final, C = ${job.quorum}</dd>
        <dt>escrow</dt><dd>${formatEth(job.deposit)} (${formatEth(job.reward_per_stage)} per stage)${job.theta != null ? `, θ = ${job.theta}` : ""}</dd>
        <dt>paid</dt><dd>${formatEth(job.paid)}</dd>
        <dt>deadline</dt><dd>${new Date(job.deadline * 1000).toLocaleString()}</dd>
      </dl>
      ${mine && job.can_reclaim ? `<button id="reclaim" type="button">Reclaim unearned escrow</button>` : ""}
      ${mine && job.status === "awaiting-test-set" && !job.can_reclaim ? `<button id="publish-test-set" type="button">Publish the test set</button>
        <p class="muted">Every stage is final: publish the test set you kept private so nodes can prove the model's accuracy.</p>` : ""}
      ${job.test_set_cid ? `<p>Test set <a id="test-set" href="/api/content/${job.test_set_cid}" download>${short(job.test_set_cid, 8)}</a></p>` : ""}
      <div id="job-msg">${state.jobMessage || ""}</div>
    </section>
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
    ${job.final_model_cid ? `<p><a id="final-model" href="/api/content/${job.final_model_cid}" download>Download the final model</a></p>` : ""}`;
  const reclaim = el.querySelector("#reclaim");
  if (reclaim) {
    reclaim.addEventListener("click", () => act(el, id, state, async () => {
      const from = state.account || (await connect());
      const tx = await api.reclaimTx(job.job_id);
      await waitForReceipt(await sendTransaction(from, tx));
      state.jobMessage = `<p class="ok">Escrow reclaimed; withdraw it from the Operators page.</p>`;
    }));
  }
  const publish = el.querySelector("#publish-test-set");
  if (publish) {
    publish.addEventListener("click", () => act(el, id, state, async () => {
      publish.disabled = true;
      const from = state.account || (await connect());
      await signIn(from);
      const out = await api.publishTestSet(job.job_id);
      const hash = out.tx_hash || (await sendTransaction(from, out.transaction));
      await waitForReceipt(hash);
      state.jobMessage = `<p class="ok" id="test-set-published">Test set published (${escapeHtml(short(out.test_set_cid, 8))}); nodes can now prove accuracy.</p>`;
    }));
  }
  await plot(el, job);
}
