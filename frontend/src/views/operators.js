// Node operators: nodes and stakes, declarations, earned and pending rewards, withdraw.
import { api } from "../api.js";
import { connect, sendTransaction, waitForReceipt } from "../wallet.js";
import { escapeHtml, formatEth, short } from "../format.js";

export async function renderOperators(el, state) {
  let nodes, me = null;
  try {
    nodes = await api.nodes();
    if (state.account) me = await api.account(state.account);
  } catch (e) {
    el.innerHTML = `<p class="error" role="alert">${escapeHtml(e.message)}</p>`;
    return;
  }
  const rows = nodes.map((n) => `<tr class="node" data-node="${n.address}">
    <td class="mono" title="${n.address}">${short(n.address, 4)}</td><td>${n.status}</td>
    <td>${formatEth(n.stake)}</td><td>${n.declarations}</td><td>${n.stages_paid}</td>
    <td>${formatEth(n.earned)}</td><td>${formatEth(n.pending)}</td></tr>`).join("");
  el.innerHTML = `
    <h1>Operators</h1>
    ${me ? `<section class="card" id="my-account"><h2>Your account <span class="mono">${short(me.address, 4)}</span></h2>
      <dl><dt>earned</dt><dd>${formatEth(me.earned)}</dd><dt>pending (withdrawable)</dt><dd id="pending">${formatEth(me.pending)}</dd>
      <dt>withdrawn</dt><dd>${formatEth(me.withdrawn)}</dd></dl>
      ${BigInt(me.pending) > 0n ? `<button id="withdraw" type="button">Withdraw ${formatEth(me.pending)}</button>` : ""}
      <div id="op-msg">${state.opMessage || ""}</div></section>`
      : `<p class="muted">Connect your wallet to see your rewards.</p>`}
    <h2>Nodes</h2>
    ${nodes.length ? `<table class="nodes"><thead><tr><th>node</th><th>status</th><th>stake</th><th>declarations</th>
      <th>stages paid</th><th>earned</th><th>pending</th></tr></thead><tbody>${rows}</tbody></table>`
      : `<p class="muted">No node has registered yet.</p>`}`;
  const btn = el.querySelector("#withdraw");
  if (btn) {
    btn.addEventListener("click", async () => {
      const msg = el.querySelector("#op-msg");
      try {
        const from = state.account || (await connect());
        const txs = await api.withdrawTx(from);
        for (const tx of txs) await waitForReceipt(await sendTransaction(from, tx));
        // kept in state: live refreshes re-render this screen
        state.opMessage = `<p class="ok">Withdrawn ${formatEth(me.pending)}.</p>`;
        await renderOperators(el, state);
      } catch (e) {
        msg.innerHTML = `<p class="error" role="alert">${escapeHtml(e.message)}</p>`;
      }
    });
  }
}
