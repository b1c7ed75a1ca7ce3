// The wallet through EIP-1193 (window.ethereum): accounts, signing in (EIP-4361), transactions.
import { api } from "./api.js";

export function provider() {
  if (!window.ethereum) throw new Error("No wallet found: install an EIP-1193 wallet (MetaMask or similar).");
  return window.ethereum;
}

export async function connect() {
  const accounts = await provider().request({ method: "eth_requestAccounts" });
  if (!accounts || !accounts.length) throw new Error("The wallet shared no account.");
  return accounts[0];
}

export async function currentAccount() {
  if (!window.ethereum) return null;
  const accounts = await window.ethereum.request({ method: "eth_accounts" });
  return accounts && accounts.length ? accounts[0] : null;
}

function utf8Hex(text) {
  return "0x" + Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, "0")).join("");
}

// Sign-In with Ethereum: the server prepares the message, the wallet signs it (personal_sign),
// and the server answers with its session cookie (HttpOnly: out of reach of page scripts).
export async function signIn(address) {
  try {
    const me = await api.me();
    if (me.address.toLowerCase() === address.toLowerCase()) return me;
  } catch {
    // not signed in (401): sign in below
  }
  const challenge = await api.nonce(address);
  const signature = await provider().request({
    method: "personal_sign",
    params: [utf8Hex(challenge.message), address],
  });
  return api.verify(challenge.message, signature);
}

const toHex = (v) => "0x" + BigInt(v).toString(16);

// Gas: the node's estimate plus 25% headroom, as zkpot's chain client does; a bare estimate
// has fallen short on Anvil (publishTestSet mined out of gas at exactly the estimated limit).
export async function sendTransaction(from, tx) {
  const call = { from, to: tx.to, data: tx.data, value: toHex(tx.value || 0) };
  const estimate = await provider().request({ method: "eth_estimateGas", params: [call] });
  return provider().request({
    method: "eth_sendTransaction",
    params: [{ ...call, gas: toHex((BigInt(estimate) * 5n) / 4n) }],
  });
}

export async function waitForReceipt(hash, { tries = 240 } = {}) {
  for (let i = 0; i < tries; i++) {
    const r = await provider().request({ method: "eth_getTransactionReceipt", params: [hash] });
    if (r) {
      if (r.status !== "0x1") throw new Error(`transaction ${hash} reverted`);
      return r;
    }
    await new Promise((ok) => setTimeout(ok, 500));
  }
  throw new Error(`transaction ${hash} not mined yet`);
}
