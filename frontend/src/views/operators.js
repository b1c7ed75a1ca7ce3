// Node operators: nodes and stakes, declarations, earned and pending rewards, withdraw.
import { api } from "../api.js";
import { connect, sendTransaction, waitForReceipt } from "../wallet.js";
import { formatEth } from "../format.js";
import { append, html, render, short } from "../html.js";

function row(n) {
  return html`<tr class="node" data-node="${n.address}">
    <td class="mono" title="${n.address}">${short(n.address, 4)}</td><td>${n.status}</td>
    <td>${formatEth(n.stake)}</td><td>${n.declarations}</td><td>${n.stages_paid}</td>
    <td>${formatEth(n.earned)}</td><td>${formatEth(n.pending)}</td></tr>`;
}

export async function renderOperators(el, state) {
  let page, me = null;
  try {
    page = await api.nodes();
    if (state.account) me = await api.account(state.account);
  } catch (e) {
    render(el, html`<p class="error" role="alert">${e.message}</p>`);
    return;
  }
  const nodes = page.items;
  render(el, html`
    <h1>Operators</h1>
    ${me ? html`<section class="card" id="my-account"><h2>Your account <span class="mono">${short(me.address, 4)}</span></h2>
      <dl><dt>earned</dt><dd>${formatEth(me.earned)}</dd><dt>pending (withdrawable)</dt><dd id="pending">${formatEth(me.pending)}</dd>
      <dt>withdrawn</dt><dd>${formatEth(me.withdrawn)}</dd></dl>
      ${BigInt(me.pending) > 0n ? html`<button id="withdraw" type="button">Withdraw ${formatEth(me.pending)}</button>` : ""}
      <div id="op-msg">${state.opMessage || ""}</div></section>`
      : html`<p class="muted">Connect your wallet to see your rewards.</p>`}
    <h2>Nodes</h2>
    ${nodes.length ? html`<table class="nodes"><thead><tr><th>node</th><th>status</th><th>stake</th><th>declarations</th>
      <th>stages paid</th><th>earned</th><th>pending</th></tr></thead><tbody id="node-rows">${nodes.map(row)}</tbody></table>
      ${page.next_cursor ? html`<button id="more-nodes" type="button">More nodes</button>` : ""}`
      : html`<p class="muted">No node has registered yet.</p>`}`);
  let cursor = page.next_cursor;
  const more = el.querySelector("#more-nodes");
  if (more) {
    more.addEventListener("click", async () => {
      const next = await api.nodes(cursor);
      append(el.querySelector("#node-rows"), html`${next.items.map(row)}`);
      cursor = next.next_cursor;
      if (!cursor) more.remove();
    });
  }
  const btn = el.querySelector("#withdraw");
  if (btn) {
    btn.addEventListener("click", async () => {
      const msg = el.querySelector("#op-msg");
      try {
        const from = state.account || (await connect());
        const txs = await api.withdrawTx(from);
        for (const tx of txs) await waitForReceipt(await sendTransaction(from, tx));
        // kept in state: live refreshes re-render this screen
        state.opMessage = html`<p class="ok">Withdrawn ${formatEth(me.pending)}.</p>`;
        await renderOperators(el, state);
      } catch (e) {
        render(msg, html`<p class="error" role="alert">${e.message}</p>`);
      }
    });
  }
}
