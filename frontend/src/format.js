// Small, pure formatting helpers (unit-tested with vitest).
export { escapeHtml, short } from "./html.js";

// Someone else's words (a node's reason) as plain text: direction controls, which could make
// "gnp.exe" read "exe.png", shown as U+FFFD.
export function othersText(text) {
  return String(text ?? "").replace(/[\u200E\u200F\u202A-\u202E\u2066-\u2069]/g, "\uFFFD");
}

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

// A stage's state in words, from the API's stage view (its state comes from the job's one
// lifecycle; nothing is recomputed here): the open attempt's declarations against its cap of
// 2C - 1, its openings against C.
export function stageState(stage, quorum) {
  const inAttempt = (stage.declarations || []).filter((d) => d.attempt === stage.attempt);
  const retry = stage.attempt > 0 ? ` (attempt ${stage.attempt + 1})` : "";
  switch (stage.state) {
    case "final": return "final";
    case "committing": return `declared ${inAttempt.length}/${2 * quorum - 1}${retry}`;
    case "revealing": return `revealed ${inAttempt.filter((d) => d.position).length}/${quorum}${retry}`;
    case "retrying": return "attempt failed: retrying";
    default: return "waiting";
  }
}
