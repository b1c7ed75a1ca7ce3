"""FederatedTaskClient.submit_update against a node whose pending block is its latest one.

Right after the commitment is mined, such a node runs the reveal in the commitment's own block
and refuses it with RevealTooEarly; the client waits for the next block and retries. Anvil's
pending block is the next one, so the real-chain tests never see this: a scripted node stands in.
"""

from __future__ import annotations

import pytest
from web3 import Web3

from zkpot.chain.artifacts import load_artifact
from zkpot.chain.client import Receipt
from zkpot.chain.errors import ContractError
from zkpot.federated.chain import FederatedTaskClient

ADDRESS = "0x" + "11" * 20
TOO_EARLY = ContractError("RevealTooEarly", (8,))


class ScriptedNode:
    """Refuses each gas estimate with the scripted errors in turn, then mines the transaction."""

    address = "0x" + "22" * 20

    def __init__(self, refusals: list[ContractError]):
        self.refusals = list(refusals)
        self.estimates: list[str | None] = []   # the block each estimate was asked against
        self.sent = 0

    def contract(self, name, address):
        return Web3().eth.contract(address=Web3.to_checksum_address(address), abi=load_artifact(name).abi)

    def transact(self, fn, value=0, gas=None, estimate_block=None):
        self.estimates.append(estimate_block)
        if self.refusals:
            raise self.refusals.pop(0)
        self.sent += 1
        return Receipt(tx_hash="0x" + "00" * 32, block_number=9, gas_used=123)


def submit(node, patience_s=5.0):
    return FederatedTaskClient(node, ADDRESS).submit_update(1, 0, [b"p"], [[1, 2]], "bafy", patience_s=patience_s)


def test_reveal_refused_in_the_commitment_block_is_retried():
    node = ScriptedNode([TOO_EARLY, TOO_EARLY])
    assert submit(node).gas_used == 123
    assert node.estimates == ["pending"] * 3    # estimated as the next block will run it
    assert node.sent == 1


def test_reveal_gives_up_when_no_block_comes():
    node = ScriptedNode([TOO_EARLY] * 100)
    with pytest.raises(ContractError, match="RevealTooEarly"):
        submit(node, patience_s=0.6)
    assert node.sent == 0


def test_other_refusals_are_not_retried():
    node = ScriptedNode([ContractError("UpdateNotCommitted", (ADDRESS, 0))])
    with pytest.raises(ContractError, match="UpdateNotCommitted"):
        submit(node)
    assert len(node.estimates) == 1 and node.sent == 0
