"""Gas of the stage agreement and the escrow's calls, measured on a fresh Anvil through zkpot's
chain client.

A 4-stage job at C = 3 with five honest nodes (2C - 1 = 5: every commit phase closes by count),
each declaring and opening every stage; a declaration settles the node's previous one inside
it, the last stage's declarations are settled apart. Figures:

- gas_stage_per_node_c3: the costliest node's transactions for a stage in steady state
  (stage 3: its declaration, which settles its stage-2 declaration into a credit that is
  already non-zero, and its opening; the finaliser's opening finalises the stage);
  gas_stage_per_node_c3_mean beside it; _credit_from_zero (stage 2: the settled reward is the
  node's first credit, a new storage slot, as after every withdrawal), _first (stage 1: each
  node's record slot in the job is new) and _last (stage 4, with the explicit settlement);
- gas_finalise_c3: the opening that finalises stage 3;
- gas_max_tx_1000_declarations: the largest single transaction of a stage on which 1,000
  staked identities attempt to declare (5 are taken, 995 refused at once), its openings,
  finalisation and settlements included;
- stage_latency_blocks: blocks from a stage's opening to its finalisation in that flow;
- gas_create_job, gas_register, gas_declare (mean, first in job), gas_declare_steady,
  gas_reveal_finalize_c3 (the finalising opening), gas_settle (a paid last-stage declaration).
gas_verify_proof is measured by the zk suite, which has the real ezkl verifier and a proof.

Every input is fixed (no random bytes), so the figures repeat exactly; a full run compares them
with the committed ``bench/gas-snapshot.json``, prints what changed and rewrites it, so a change
of gas shows in the commit that made it (``notes.gas_snapshot`` lists the changes).
"""

from __future__ import annotations

import json
from pathlib import Path

from eth_account import Account
from eth_utils import keccak

from zkpot.chain import ChainClient, ContractError, JobEscrowClient, JobParams, NodeRegistryClient, Opening, deploy_all
from zkpot.devnet import Anvil, dev_private_keys
from zkpot.hashing import commitment

STAKE = 10**16
SNAPSHOT = Path(__file__).resolve().parent / "gas-snapshot.json"  # committed; rewritten by a full run


def _params(deployment, now: int, stages: int) -> JobParams:
    return JobParams(keccak(b"manifest"), "bafymanifest", stages, 3, 10**15, 10**16, 50, 64, [keccak(b"shard")],
                     [keccak(b"shard bytes")], deployment.verifier, now + 30 * 24 * 3600)


def _stage(escrows: list[JobEscrowClient], job_id: int, stage: int) -> dict[str, list[int]]:
    """Every node declares, then opens, the same result; gas per node and the blocks spanned."""
    rho, weights, cid = keccak(b"rho %d" % stage), keccak(b"S%d" % stage), "bafyS%d" % stage
    openings = []
    declare, reveal = [], []
    first = None
    for i, escrow in enumerate(escrows):
        rand = keccak(b"rand %d %d" % (stage, i))  # fixed bytes: calldata gas is the same every run
        receipt = escrow.declare(job_id, stage, commitment(rho, weights, 0, rand, escrow.client.address))
        first = first or receipt.block_number
        declare.append(receipt.gas_used)
        openings.append(Opening(rho, weights, 0, rand, cid))
    last = first
    for escrow, opening in zip(escrows, openings):
        receipt = escrow.reveal(job_id, stage, opening)
        reveal.append(receipt.gas_used)
        if receipt.events_named("StageFinalised"):
            last = receipt.block_number
    return {"declare": declare, "reveal": reveal, "blocks": [last - first + 1]}


def _flood(rpc_url: str, employer: ChainClient, deployment, attempts: int) -> int:
    """The largest transaction of a stage that ``attempts`` staked identities try to declare.

    The identities register, then the first 2C - 1 declare one by one (the commit phase closes
    by count); the rest send their declarations anyway, as an attacker would, all at once into
    the next blocks (mined with automine off, so the flood costs a few blocks of chain time
    however loaded the machine is); then the openings and settlements.
    """
    w3 = employer.w3
    escrow_e = JobEscrowClient(employer, deployment.escrow)
    job_id = escrow_e.create_job(_params(deployment, w3.eth.get_block("latest")["timestamp"], 1))
    accounts = [Account.from_key(keccak(b"zkpot bench flood %d" % i)) for i in range(attempts)]
    for account in accounts:
        w3.provider.make_request("anvil_setBalance", [account.address, hex(10**18)])
    registry = NodeRegistryClient(employer, deployment.registry).contract
    _mine_all(w3, [_signed(w3, a, registry.functions.register(), value=STAKE) for a in accounts], ok=True)
    rho, weights, cid = keccak(b"flood rho"), keccak(b"flooded stage"), "bafyflood"
    gas, accepted, refused = [], [], []
    for account in accounts:
        rand = keccak(b"rand " + bytes.fromhex(account.address[2:]))
        declaration = (job_id, 1, commitment(rho, weights, 0, rand, account.address))
        if refused:  # the commit phase is full: every later identity is refused too
            refused.append(_signed(w3, account, escrow_e.contract.functions.declare(*declaration)))
            continue
        node = ChainClient(rpc_url, account.key.to_0x_hex())
        escrow = JobEscrowClient(node, deployment.escrow)
        fn = escrow.contract.functions.declare(*declaration)
        try:
            gas.append(node.transact(fn).gas_used)
            accepted.append((escrow, Opening(rho, weights, 0, rand, cid)))
        except ContractError:
            refused.append(_signed(w3, account, fn))
    gas += _mine_all(w3, refused, ok=False)
    for escrow, opening in accepted:
        gas.append(escrow.reveal(job_id, 1, opening).gas_used)
    for escrow, _ in accepted:
        gas.append(escrow.settle(job_id, escrow.client.address).gas_used)
    return max(gas)


def _signed(w3, account, fn, value: int = 0) -> bytes:
    """A signed transaction (the chain client never sends one the chain refuses; a flood does)."""
    tx = fn.build_transaction({"from": account.address, "value": value, "gas": 300_000, "gasPrice": 100 * 10**9,
                               "chainId": w3.eth.chain_id, "nonce": w3.eth.get_transaction_count(account.address)})
    return account.sign_transaction(tx).raw_transaction


def _mine_all(w3, raw: list[bytes], ok: bool) -> list[int]:
    """Send ``raw`` with automine off, mine blocks until all are in; their gas. Each must have
    succeeded (``ok``) or reverted."""
    w3.provider.make_request("evm_setAutomine", [False])
    try:
        hashes = [w3.eth.send_raw_transaction(tx) for tx in raw]
        while int(w3.provider.make_request("txpool_status", [])["result"]["pending"], 16):
            w3.provider.make_request("evm_mine", [])
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
    receipts = [w3.eth.get_transaction_receipt(h) for h in hashes]
    assert all(r["status"] == (1 if ok else 0) for r in receipts), "a flood transaction ended otherwise"
    return [int(r["gasUsed"]) for r in receipts]


def run(ctx) -> dict:
    with Anvil(log_dir=ctx.work_dir / "logs") as anvil:
        keys = dev_private_keys(6)
        employer = ChainClient(anvil.rpc_url, keys[0])
        deployment = deploy_all(employer, min_stake=STAKE, mock_verifier=True)
        now = employer.w3.eth.get_block("latest")["timestamp"]
        created = JobEscrowClient(employer, deployment.escrow).create_job_receipt(_params(deployment, now, 4))
        job_id = created.event("JobCreated")["jobId"]
        nodes = [ChainClient(anvil.rpc_url, k) for k in keys[1:6]]
        register = [NodeRegistryClient(n, deployment.registry).register(STAKE).gas_used for n in nodes]
        escrows = [JobEscrowClient(n, deployment.escrow) for n in nodes]
        stages = [_stage(escrows, job_id, s) for s in (1, 2, 3, 4)]
        settle = [e.settle(job_id, e.client.address).gas_used for e in escrows]
        per_node = [[d + r for d, r in zip(s["declare"], s["reveal"])] for s in stages]
        last = [p + g for p, g in zip(per_node[3], settle)]
        finalise = max(stages[2]["reveal"])
        flood = _flood(anvil.rpc_url, employer, deployment, 200 if ctx.quick else 1000)
    ctx.notes["gas_stage_per_node_c3"] = (
        "the costliest of five nodes' declaration + opening of stage 3 of 4 (C = 3; the declaration "
        "settles the node's stage-2 declaration, the finaliser's opening finalises); a credit from "
        "zero adds ~17k once per withdrawal (gas_stage_per_node_c3_credit_from_zero)")
    if ctx.quick:
        ctx.notes["gas_max_tx_1000_declarations"] = "quick run: 200 attempted declarations"
    figures = {
        "gas_create_job": created.gas_used,
        "gas_register": register[0],
        "gas_declare": round(sum(stages[0]["declare"]) / len(nodes)),
        "gas_declare_steady": round(sum(stages[2]["declare"]) / len(nodes)),
        "gas_reveal_finalize_c3": finalise,
        "gas_finalise_c3": finalise,
        "gas_settle": max(settle),
        "gas_stage_per_node_c3": max(per_node[2]),
        "gas_stage_per_node_c3_mean": round(sum(per_node[2]) / len(nodes)),
        "gas_stage_per_node_c3_credit_from_zero": max(per_node[1]),
        "gas_stage_per_node_c3_first": max(per_node[0]),
        "gas_stage_per_node_c3_last": max(last),
        "gas_max_tx_1000_declarations": flood,
        "stage_latency_blocks": stages[2]["blocks"][0],
    }
    changes = compare_snapshot(figures, write=not ctx.quick)
    ctx.notes["gas_snapshot"] = (f"against {SNAPSHOT.name}: " + ("; ".join(changes) if changes else "no change")
                                 + ("" if not ctx.quick else " (quick run: snapshot not written)"))
    return figures


def compare_snapshot(figures: dict[str, int], write: bool) -> list[str]:
    """Each gas figure against the committed snapshot (``bench/gas-snapshot.json``), as
    "name old -> new (+d)" lines, printed; the snapshot rewritten with the new figures when
    ``write``. Every input is fixed, so a change is the contracts' or the client's doing and
    shows in the snapshot's diff."""
    old = json.loads(SNAPSHOT.read_text()) if SNAPSHOT.exists() else {}
    gas = {k: v for k, v in figures.items() if k.startswith("gas_") and k != "gas_max_tx_1000_declarations"}
    if write:
        gas["gas_max_tx_1000_declarations"] = figures["gas_max_tx_1000_declarations"]
    changes = [f"{k} {old.get(k)} -> {v} ({v - old[k]:+d})" if k in old else f"{k} new: {v}"
               for k, v in sorted(gas.items()) if old.get(k) != v]
    changes += [f"{k} gone (was {old[k]})" for k in sorted(old) if k not in figures]
    for line in changes:
        print(f"    gas snapshot: {line}", flush=True)
    if write:
        SNAPSHOT.write_text(json.dumps(dict(sorted(gas.items())), indent=2) + "\n")
    return changes
