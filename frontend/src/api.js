// The zkpot HTTP API as the dashboard uses it. Failures carry the server's problem reason.

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

let token = sessionStorage.getItem("zkpot-token");
let tokenAddress = sessionStorage.getItem("zkpot-token-address");

export function session() {
  return token ? { token, address: tokenAddress } : null;
}

export function setSession(s) {
  token = s ? s.token : null;
  tokenAddress = s ? s.address : null;
  if (s) {
    sessionStorage.setItem("zkpot-token", s.token);
    sessionStorage.setItem("zkpot-token-address", s.address);
  } else {
    sessionStorage.removeItem("zkpot-token");
    sessionStorage.removeItem("zkpot-token-address");
  }
}

export async function request(path, { method = "GET", json, form, auth = false } = {}) {
  const headers = {};
  let body;
  if (json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  if (auth && token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(path, { method, headers, body });
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

export const api = {
  nonce: (address) => request(`/api/auth/nonce?address=${address}`),
  verify: (message, signature) => request("/api/auth/verify", { method: "POST", json: { message, signature } }),
  catalog: () => request("/api/catalog"),
  createJob: (form) => request("/api/jobs", { method: "POST", form, auth: true }),
  jobs: () => request("/api/jobs"),
  job: (id) => request(`/api/jobs/${id}`),
  reclaimTx: (id) => request(`/api/jobs/${id}/reclaim-tx`),
  curves: (id) => request(`/api/jobs/${id}/curves`),
  publishTestSet: (id) => request(`/api/jobs/${id}/test-set`, { method: "POST", auth: true }),
  nodes: () => request("/api/nodes"),
  account: (address) => request(`/api/accounts/${address}`),
  withdrawTx: (address) => request(`/api/accounts/${address}/withdraw-tx`),
  status: () => request("/api/status"),
};
