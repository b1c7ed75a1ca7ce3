// The zkpot HTTP API as the dashboard uses it. Failures carry the server's problem reason.
// The session is an HttpOnly cookie the server sets on sign-in: no script on the page can read
// it, and the browser sends it only to this origin (SameSite=Strict).

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

export async function request(path, { method = "GET", json, form } = {}) {
  const headers = {};
  let body;
  if (json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  const res = await fetch(path, { method, headers, body, credentials: "same-origin" });
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text };
  }
  if (!res.ok) {
    const detail = (data && (data.detail || data.title)) || `${res.status} ${res.statusText}`;
    throw new ApiError(res.status, typeof detail === "string" ? detail : JSON.stringify(detail));
  }
  return data;
}

const q = (params) => {
  const s = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null));
  return s.toString() ? `?${s}` : "";
};

export const api = {
  nonce: (address) => request(`/api/auth/nonce${q({ address })}`),
  verify: (message, signature) => request("/api/auth/verify", { method: "POST", json: { message, signature } }),
  me: () => request("/api/auth/me"),
  logout: () => request("/api/auth/logout", { method: "POST" }),
  catalog: () => request("/api/catalog"),
  createJob: (form) => request("/api/jobs", { method: "POST", form }),
  jobs: (cursor) => request(`/api/jobs${q({ cursor })}`),
  job: (id) => request(`/api/jobs/${encodeURIComponent(id)}`),
  reclaimTx: (id) => request(`/api/jobs/${encodeURIComponent(id)}/reclaim-tx`),
  curves: (id) => request(`/api/jobs/${encodeURIComponent(id)}/curves`),
  publishTestSet: (id) => request(`/api/jobs/${encodeURIComponent(id)}/test-set`, { method: "POST" }),
  nodes: (cursor) => request(`/api/nodes${q({ cursor })}`),
  account: (address) => request(`/api/accounts/${encodeURIComponent(address)}`),
  withdrawTx: (address) => request(`/api/accounts/${encodeURIComponent(address)}/withdraw-tx`),
  status: () => request("/api/status"),
};
