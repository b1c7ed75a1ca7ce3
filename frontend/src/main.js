// zkpot dashboard: hash routes, wallet header, live refresh from the API's event stream.
import "uplot/dist/uPlot.min.css";
import "./style.css";
import { connect, currentAccount } from "./wallet.js";
import { renderJobs } from "./views/jobs.js";
import { renderJob } from "./views/job.js";
import { renderPost } from "./views/post.js";
import { renderOperators } from "./views/operators.js";
import { short } from "./format.js";

export const state = { account: null };
const view = document.getElementById("view");
let current = null;

function route() {
  const hash = location.hash || "#/jobs";
  const m = hash.match(/^#\/jobs\/(\d+)$/);
  if (m) return { name: "job", render: (el) => renderJob(el, Number(m[1]), state) };
  if (hash.startsWith("#/post")) return { name: "post", render: (el) => renderPost(el, state) };
  if (hash.startsWith("#/operators")) return { name: "operators", render: (el) => renderOperators(el, state) };
  return { name: "jobs", render: (el) => renderJobs(el, state) };
}

async function show() {
  current = route();
  document.querySelectorAll("[data-nav]").forEach((a) => a.classList.toggle("active", a.dataset.nav === current.name || (current.name === "job" && a.dataset.nav === "jobs")));
  view.dataset.view = current.name;
  await current.render(view);
}

// Live: every indexed chain event refreshes the visible screen (coalesced).
let pending = false;
async function refresh() {
  if (pending || !current || current.name === "post") return;
  pending = true;
  setTimeout(async () => {
    pending = false;
    try { await current.render(view, { live: true }); } catch (e) { console.error(e); }
  }, 150);
}

function follow() {
  const live = document.getElementById("live-status");
  const es = new EventSource("/api/events");
  es.addEventListener("chain", () => refresh());
  es.onopen = () => { live.textContent = "· live"; live.dataset.live = "1"; };
  es.onerror = () => { live.textContent = "· reconnecting"; live.dataset.live = "0"; };
}

function showAccount() {
  const btn = document.getElementById("connect");
  const acc = document.getElementById("account");
  if (state.account) {
    btn.hidden = true;
    acc.hidden = false;
    acc.textContent = short(state.account, 4);
    acc.title = state.account;
  }
}

document.getElementById("connect").addEventListener("click", async () => {
  try {
    state.account = await connect();
    showAccount();
    await show();
  } catch (e) {
    alert(e.message);
  }
});

window.addEventListener("hashchange", () => {
  state.opMessage = state.jobMessage = null;
  show();
});
(async () => {
  try { state.account = await currentAccount(); } catch { state.account = null; }
  showAccount();
  follow();
  await show();
})();
