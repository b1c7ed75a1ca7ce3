// All jobs, newest first, a page at a time, with their progress.
import { api } from "../api.js";
import { formatEth } from "../format.js";
import { append, html, render, short } from "../html.js";

function row(j) {
  return html`
    <tr data-job="${j.job_id}">
      <td><a href="#/jobs/${j.job_id}">#${j.job_id}</a></td>
      <td class="mono" title="${j.employer}">${short(j.employer, 4)}</td>
      <td><span class="badge ${j.status}">${j.status}</span></td>
      <td><progress max="${j.stage_count}" value="${j.stages_final}"></progress> ${j.stages_final}/${j.stage_count}</td>
      <td>${j.quorum}</td>
      <td>${formatEth(j.deposit)}</td>
      <td>${new Date(j.deadline * 1000).toLocaleString()}</td>
    </tr>`;
}

export async function renderJobs(el, state) {
  let page;
  try {
    page = await api.jobs();
  } catch (e) {
    render(el, html`<p class="error" role="alert">${e.message}</p>`);
    return;
  }
  const jobs = page.items;
  render(el, html`
    <h1>Jobs</h1>
    ${jobs.length ? html`<table class="jobs"><thead><tr><th>job</th><th>employer</th><th>status</th>
      <th>stages</th><th>C</th><th>escrow</th><th>deadline</th></tr></thead><tbody id="job-rows">${jobs.map(row)}</tbody></table>
      ${page.next_cursor ? html`<button id="more-jobs" type="button">Older jobs</button>` : ""}`
      : html`<p class="muted">No jobs on this chain yet. <a href="#/post">Post one.</a></p>`}`);
  let cursor = page.next_cursor;
  const more = el.querySelector("#more-jobs");
  if (more) {
    more.addEventListener("click", async () => {
      const next = await api.jobs(cursor);
      append(el.querySelector("#job-rows"), html`${next.items.map(row)}`);
      cursor = next.next_cursor;
      if (!cursor) more.remove();
    });
  }
}
