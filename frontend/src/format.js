// Small, pure formatting helpers (unit-tested with vitest).
export { escapeHtml, short } from "./html.js";

export function formatEth(wei, digits = 4) {
  const w = BigInt(wei ?? 0);
  const neg = w < 0n;
  const a = neg ? -w : w;
  const whole = a / 10n ** 18n;
  const frac = (a % 10n ** 18n).toString().padStart(18, "0").slice(0, digits).replace(/0+$/, "");
  return `${neg ? "-" : ""}${whole}${frac ? "." + frac : ""} ETH`;
}

export function parseEthToWei(text) {
  const t = String(text).trim();
  if (!/^\d+(\.\d{0,18})?$/.test(t)) throw new Error(`not an amount of ETH: ${text}`);
  const [whole, frac = ""] = t.split(".");
  return (BigInt(whole) * 10n ** 18n + BigInt(frac.padEnd(18, "0"))).toString();
}

export function stageState(stage, quorum) {
  if (stage.finalised) return "final";
  if ((stage.declarations || []).length > 0) return `declared ${stage.declarations.length}/${quorum}`;
  return "waiting";
}
