import { describe, expect, it } from "vitest";
import { formatEth, parseEthToWei, short, stageState, escapeHtml } from "./format.js";

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
    expect(stageState({ declarations: [] }, 2)).toBe("waiting");
    expect(stageState({ declarations: [{}] }, 2)).toBe("declared 1/2");
    expect(stageState({ declarations: [{}, {}], finalised: {} }, 2)).toBe("final");
  });
  it("escapes html", () => expect(escapeHtml("<b>")).toBe("&lt;b&gt;"));
});
