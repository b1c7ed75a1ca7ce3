"""Gas per contract call, measured on a fresh Anvil through zkpot's chain client.

Figures: gas_create_job, gas_register, gas_declare (mean of the C=3 declarations of a stage),
gas_declare_max (the costliest of the agreeing declarations: a node's first declaration in a
job, which creates its record, and the stage's first, whose pair the job's own slots count),
gas_declare_steady (stage 2's mean), gas_declare_conflict (a node's first declaration in a job
with a pair that differs from the stage's first: its record is a new storage slot, the pair is
counted in the job's own `runnerPair`), gas_reveal_finalize_c3 (stage 1 of 2: credits three accounts from
zero, the costly case), gas_reveal_finalize_c3_last (the last stage: credits already non-zero,
but it stores the final model commitment and the finalist flags). gas_verify_proof is measured
by the zk suite, which has the real ezkl verifier and a proof.
"""

from __future__ import annotations

import os
from dataclasses import replace

from eth_utils import keccak

from zkpot.chain import ChainClient, Declaration, JobEscrowClient, JobParams, NodeRegistryClient, deploy_all
from zkpot.devnet import Anvil, dev_private_keys
from zkpot.hashing import commitment

STAKE = 10**16


def run(ctx) -> dict:
    with Anvil(log_dir=ctx.work_dir / "logs") as anvil:
        keys = dev_private_keys(4)
        employer = ChainClient(anvil.rpc_url, keys[0])
        deployment = deploy_all(employer, min_stake=STAKE, mock_verifier=True)
        now = employer.w3.eth.get_block("latest")["timestamp"]
        params = JobParams(keccak(b"manifest"), "bafymanifest", 2, 3, 10**15, 10**16, 50, 64,
                           [keccak(b"shard")], deployment.verifier, now + 3600)
        created = JobEscrowClient(employer, deployment.escrow).create_job_receipt(params)
        job_id = created.event("JobCreated")["jobId"]

        nodes = [ChainClient(anvil.rpc_url, k) for k in keys[1:4]]
        register = [NodeRegistryClient(n, deployment.registry).register(STAKE).gas_used for n in nodes]
        declare, reveal = [], []
        for stage in (1, 2):
            rho, weights = os.urandom(32), keccak(b"S%d" % stage)
            decls = []
            for node in nodes:
                rand = os.urandom(32)
                escrow = JobEscrowClient(node, deployment.escrow)
                declare.append(escrow.declare(job_id, stage, weights, stage, commitment(rho, rand, node.address),
                                              rand).gas_used)
                decls.append((node.address, weights, stage, commitment(rho, rand, node.address), rand))
            reveal.append(JobEscrowClient(nodes[0], deployment.escrow).reveal(
                job_id, stage, rho, "bafyS%d" % stage, [Declaration(*d) for d in decls]).gas_used)
        # a second job, with a later deadline (the stake lock is raised again): nodes[1]'s first
        # declaration in it disagrees with nodes[0]'s
        other = JobEscrowClient(employer, deployment.escrow).create_job(
            replace(params, deadline=params.deadline + 3600))
        conflict = []
        for node, weights in zip(nodes[:2], (keccak(b"S1"), keccak(b"other S1"))):
            rand = os.urandom(32)
            conflict.append(JobEscrowClient(node, deployment.escrow).declare(
                other, 1, weights, 1, commitment(os.urandom(32), rand, node.address), rand).gas_used)
    ctx.notes["gas_declare"] = ("mean of the 3 declarations of stage 1 (first declarations of each node "
                                "in the job); stage 2 mean is gas_declare_steady")
    return {
        "gas_create_job": created.gas_used,
        "gas_register": register[0],
        "gas_declare": round(sum(declare[:3]) / 3),
        "gas_declare_max": max(declare),
        "gas_declare_steady": round(sum(declare[3:]) / 3),
        "gas_declare_conflict": conflict[1],
        "gas_reveal_finalize_c3": reveal[0],
        "gas_reveal_finalize_c3_last": reveal[1],
    }
