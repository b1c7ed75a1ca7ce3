import { describe, expect, it } from "vitest";
import { formatEth, othersText, parseEthToWei, stageState } from "./format.js";
import { append, contentLink, escapeHtml, html, isCid, render, short } from "./html.js";

const CID = "bafkreidhm5cm2qo766h7ei3utsevzxgp5qqw444jvk4mh6qzan2c37ifiu";

describe("amounts", () => {
  it("formats wei as ETH", () => {
    expect(formatEth("1500000000000000000")).toBe("1.5 ETH");
    expect(formatEth(0)).toBe("0 ETH");
  });
  it("parses ETH into wei exactly", () => {
    expect(parseEthToWei("0.01")).toBe("10000000000000000");
    expect(parseEthToWei("2")).toBe("2000000000000000000");
    expect(() => parseEthToWei("1e3")).toThrow();
  });
});

describe("labels", () => {
  it("shortens hashes", () => expect(short("0x" + "ab".repeat(32))).toBe("0xababab…ababab"));
  it("names stage states", () => {
    expect(stageState({ state: "waiting", attempt: 0, declarations: [] }, 2)).toBe("waiting");
    expect(stageState({ state: "committing", attempt: 0, declarations: [{ attempt: 0 }] }, 2)).toBe("declared 1/3");
    expect(stageState({ state: "revealing", attempt: 1, declarations: [{ attempt: 0, position: 1 },
      { attempt: 1, position: 1 }, { attempt: 1 }] }, 2)).toBe("revealed 1/2 (attempt 2)");
    expect(stageState({ state: "retrying", attempt: 0, declarations: [] }, 2)).toBe("attempt failed: retrying");
    expect(stageState({ state: "final", attempt: 0, declarations: [{}, {}] }, 2)).toBe("final");
  });
  it("escapes html", () => expect(escapeHtml("<b>")).toBe("&lt;b&gt;"));
});

describe("html templates escape by construction", () => {
  const hostile = `"><img src=x onerror=alert(1)><script>window.pwned=1</script>'\``;
  it("escapes every interpolated string, in text and in quoted attributes", () => {
    const out = html`<p title="${hostile}">${hostile}</p>`.toString();
    expect(out).not.toContain("<img");
    expect(out).not.toContain("<script");
    expect(out).not.toMatch(/title="[^"]*"[^>]*onerror/);
    expect(out).toContain("&lt;script&gt;");
  });
  it("keeps nested templates and arrays of them as markup", () => {
    const items = ["a<", "b>"].map((x) => html`<li>${x}</li>`);
    expect(html`<ul>${items}</ul>`.toString()).toBe("<ul><li>a&lt;</li><li>b&gt;</li></ul>");
  });
  it("renders only templates", () => {
    const el = {};
    render(el, html`<b>${"<i>"}</b>`);
    expect(el.innerHTML).toBe("<b>&lt;i&gt;</b>");
    expect(() => render(el, "<img src=x onerror=alert(1)>")).toThrow(TypeError);
    expect(() => append({ insertAdjacentHTML() {} }, "<b>")).toThrow(TypeError);
  });
});

describe("content links", () => {
  it("recognises zkpot CIDs only", () => {
    expect(isCid(CID)).toBe(true);
    expect(isCid("javascript:alert(1)")).toBe(false);
    expect(isCid(CID + "x")).toBe(false);
    expect(isCid(CID.toUpperCase())).toBe(false);
    expect(isCid("bafkreistageoneweights")).toBe(false);
  });
  it("links a CID and shows anything else as text", () => {
    expect(contentLink(CID).toString()).toContain(`href="/api/content/${CID}"`);
    const bad = contentLink(`javascript:alert(1)//"><script>x</script>`).toString();
    expect(bad).not.toContain("href");
    expect(bad).not.toContain("<script");
  });
});

describe("others' words", () => {
  it("shows direction controls instead of obeying them", () => {
    expect(othersText("photo\u202Egnp.exe")).toBe("photo\uFFFDgnp.exe");
    expect(othersText("a\u2066b\u2069c\u200F")).toBe("a\uFFFDb\uFFFDc\uFFFD");
    expect(othersText("plain text, <b>kept</b> as is")).toBe("plain text, <b>kept</b> as is");
    expect(othersText(undefined)).toBe("");
  });
});

