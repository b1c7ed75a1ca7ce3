// All jobs, newest first, with their progress.
import { api } from "../api.js";
import { escapeHtml, formatEth, short } from "../format.js";

export async function renderJobs(el) {
  let jobs;
  try {
    jobs = await api.jobs();
  } catch (e) {
    el.innerHTML = `<p class="error" role="alert">${escapeHtml(e.message)}</p>`;
    return;
  }
  const rows = jobs.map((j) => `
    <tr data-job="${j.job_id}">
      <td><a href="#/jobs/${j.job_id}">#${j.job_id}</a></td>
      <td class="mono" title="${j.employer}">${short(j.employer, 4)}</td>
      <td><span class="badge ${j.status}">${j.status}</span></td>
      <td><progress max="${j.stage_count}" value="${j.stages_final}"></progress> ${j.stages_final}/${j.stage_count}</td>
      <td>${j.quorum}</td>
      <td>${formatEth(j.deposit)}</td>
      <td>${new Date(j.deadline * 1000).toLocaleString()}</td>
    </tr>`).join("");
  el.innerHTML = `
    <h1>Jobs</h1>
    ${jobs.length ? `<table class="jobs"><thead><tr><th>job</th><th>employer</th><th>status</th>
      <th>stages</th><th>C</th><th>escrow</th><th>deadline</th></tr></thead><tbody>${rows}</tbody></table>`
      : `<p class="muted">No jobs on this chain yet. <a href="#/post">Post one.</a></p>`}`;
}
