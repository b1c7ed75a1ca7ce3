// The one way the dashboard puts text into the page. html`…` escapes every interpolated value
// (strings from the chain, the API or the user are data, never markup) unless the value is
// itself html`…`; render() accepts nothing else. Attribute values in templates are always
// quoted. Links to content are made only for strings that parse as zkpot CIDs.

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "`": "&#96;" };

export function escapeHtml(s) {
  return String(s ?? "").replace(/[&<>"'`]/g, (c) => ESCAPES[c]);
}

class Html {
  constructor(text) {
    this.text = text;
  }
  toString() {
    return this.text;
  }
}

function piece(v) {
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) return v.map(piece).join("");
  if (v === null || v === undefined || v === false) return "";
  return escapeHtml(v);
}

export function html(strings, ...values) {
  let out = strings[0];
  values.forEach((v, i) => {
    out += piece(v) + strings[i + 1];
  });
  return new Html(out);
}

export function isHtml(v) {
  return v instanceof Html;
}

export function render(el, content) {
  if (!(content instanceof Html)) throw new TypeError("render() takes html`…` only");
  el.innerHTML = content.text;
}

// CIDv1, base32, as zkpot makes them (zkpot/storage.py): "b" + 58 base32 characters.
const CID = /^b[a-z2-7]{58}$/;

export function isCid(s) {
  return typeof s === "string" && CID.test(s);
}

export function short(text, n = 6) {
  if (!text) return "";
  const s = String(text);
  return s.length > 2 * n + 2 ? `${s.slice(0, n + 2)}…${s.slice(-n)}` : s;
}

// A download link for a CID, or the string as plain text when it is not one.
export function contentLink(cid, { label, id, download = true, n = 8 } = {}) {
  if (!isCid(cid)) {
    return html`<span class="mono not-cid" title="not a content ID: ${cid}">${short(cid, n)}</span>`;
  }
  const text = label ?? short(cid, n);
  return html`<a class="mono" ${id ? html`id="${id}"` : ""} href="/api/content/${cid}" ${download ? html`download` : ""}>${text}</a>`;
}

export function append(el, content) {
  if (!(content instanceof Html)) throw new TypeError("append() takes html`…` only");
  el.insertAdjacentHTML("beforeend", content.text);
}
