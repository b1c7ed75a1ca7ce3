// Post a job: dataset (bundled demo or upload), model spec (presets), escrow terms; the wallet
// signs in (EIP-4361) for the upload and then signs the createJob transaction itself.
import { api } from "../api.js";
import { connect, sendTransaction, signIn, waitForReceipt } from "../wallet.js";
import { parseEthToWei } from "../format.js";
import { html, render, short } from "../html.js";

export async function renderPost(el, state) {
  let catalog;
  try {
    catalog = await api.catalog();
  } catch (e) {
    render(el, html`<p class="error" role="alert">${e.message}</p>`);
    return;
  }
  const d = catalog.defaults;
  render(el, html`
    <h1>Post a training job</h1>
    <form id="post-job" class="card">
      <fieldset>
        <legend>Dataset</legend>
        <label><input type="radio" name="source" value="demo" checked> bundled demo dataset</label>
        <select name="demo_dataset" id="demo-dataset">
          ${catalog.datasets.map((x) => html`<option value="${x.name}">${x.name} — ${x.description}</option>`)}
        </select>
        <label><input type="radio" name="source" value="upload"> upload CSV / NPZ</label>
        <input type="file" name="dataset" id="dataset-file" accept=".csv,.npz">
        <p class="muted">CSV: features then the integer label in the last column. NPZ: arrays <code>x</code> and <code>y</code>.
          Largest upload ${(catalog.max_upload_bytes / 1048576).toFixed(0)} MiB.</p>
      </fieldset>
      <fieldset>
        <legend>Model spec</legend>
        <label>Preset <select id="preset">
          ${catalog.presets.map((p) => html`<option value="${p.name}">${p.name}</option>`)}
        </select></label>
        <textarea name="spec" id="spec" rows="12" spellcheck="false"></textarea>
      </fieldset>
      <fieldset class="terms">
        <legend>Escrow</legend>
        <label>Reward per paid declaration (ETH; C are paid per stage) <input name="reward" id="reward" value="${d.reward_per_declaration_eth}"></label>
        <label>Agreeing nodes C <input name="quorum" id="quorum" type="number" min="1" value="${d.quorum}"></label>
        <label>Accuracy θ <input name="theta" id="theta" type="number" min="0" max="1" step="0.01" value="${d.theta}"></label>
        <label>Deadline (hours) <input name="deadline_hours" id="deadline" type="number" min="0.01" step="0.01" value="${d.deadline_hours}"></label>
      </fieldset>
      <details class="advanced" id="advanced">
        <summary>Advanced</summary>
        <fieldset class="terms">
          <label>Work per stage Δ (training FLOPs) <input name="stage_flops" id="stage-flops" type="number" min="1000" step="1" value="${d.stage_flops}"></label>
          <label>Test samples per proof shard N <input name="shard_size" id="shard-size" type="number" min="1" max="256" step="1" value="${d.shard_size}"></label>
        </fieldset>
        <p class="muted">Δ sizes each stage's data chunk so one stage costs about this much training work
          (6 × parameters × samples); N is the test-set size one accuracy proof covers.</p>
      </details>
      <button type="submit" id="submit-job">Sign in, upload and sign the escrow</button>
    </form>
    <div id="post-result" aria-live="polite"></div>`);
  const spec = el.querySelector("#spec");
  const preset = el.querySelector("#preset");
  const fill = () => {
    const p = catalog.presets.find((x) => x.name === preset.value);
    spec.value = JSON.stringify(p.spec, null, 2);
  };
  preset.addEventListener("change", fill);
  fill();
  el.querySelector("#dataset-file").addEventListener("change", () => {
    el.querySelector('input[name=source][value=upload]').checked = true;
  });
  el.querySelector("#post-job").addEventListener("submit", (ev) => {
    ev.preventDefault();
    submit(el, state).catch(() => {});
  });
}

function say(el, content, cls = "") {
  const out = el.querySelector("#post-result");
  render(out, cls === "error" ? html`<p class="error" role="alert">${content}</p>` : html`<p class="${cls}">${content}</p>`);
}

async function submit(el, state) {
  const f = el.querySelector("#post-job");
  const button = el.querySelector("#submit-job");
  button.disabled = true;
  try {
    if (!state.account) state.account = await connect();
    say(el, "Signing in with your wallet…");
    await signIn(state.account);
    const form = new FormData();
    form.set("spec", el.querySelector("#spec").value);
    const upload = f.querySelector('input[name=source]:checked').value === "upload";
    if (upload) {
      const file = el.querySelector("#dataset-file").files[0];
      if (!file) throw new Error("choose a CSV or NPZ file to upload");
      form.set("dataset", file);
    } else {
      form.set("demo_dataset", el.querySelector("#demo-dataset").value);
    }
    form.set("reward_per_declaration_wei", parseEthToWei(el.querySelector("#reward").value));
    form.set("quorum", el.querySelector("#quorum").value);
    form.set("theta", el.querySelector("#theta").value);
    form.set("deadline_s", String(Math.round(Number(el.querySelector("#deadline").value) * 3600)));
    form.set("stage_flops", el.querySelector("#stage-flops").value);
    form.set("shard_size", el.querySelector("#shard-size").value);
    say(el, "Validating, chunking and storing the dataset…");
    const prepared = await api.createJob(form);
    let hash = prepared.tx_hash;
    if (!hash) {
      say(el, html`Manifest <span class="mono">${short(prepared.manifest_hash)}</span> stored; confirm the escrow of ${prepared.deposit_eth} ETH in your wallet…`);
      hash = await sendTransaction(state.account, prepared.transaction);
    }
    say(el, html`Waiting for <span class="mono">${short(hash)}</span>…`);
    await waitForReceipt(hash);
    let job = null;
    for (let i = 0; i < 40 && !job; i++) {
      const jobs = (await api.jobs()).items;
      job = jobs.find((j) => j.manifest_hash === prepared.manifest_hash);
      if (!job) await new Promise((ok) => setTimeout(ok, 250));
    }
    say(el, job
      ? html`Job <a id="new-job" href="#/jobs/${job.job_id}">#${job.job_id}</a> created: ${prepared.stage_count} stages, manifest <span class="mono">${short(prepared.manifest_cid, 8)}</span>.`
      : "Transaction mined; the job appears once the index has read it.", "ok");
  } catch (e) {
    say(el, e.message || String(e), "error");
    throw e;
  } finally {
    button.disabled = false;
  }
}
