"""submitUpdate against copiers. A proof says nothing about its sender and is public as soon as
its reveal is in the mempool; an update is accepted only from the sender who committed to it in
the round's commit phase, which is over before any reveal is taken, so a copy is worth nothing,
even one that is mined first.

Tests marked "one block" mine several transactions together (automine off, ordered by fee),
as a front-runner who saw the honest reveal pending would have them mined.
"""

from contextlib import contextmanager

import brownie
from brownie import web3

from .conftest import REWARD, SAMPLES, close, commit, commitment_of, phases, reveal, to_reveal

AUTHOR_FEE, COPIER_FEE = "1 gwei", "50 gwei"
PENDING = {"required_confs": 0, "gas_limit": 1_000_000, "allow_revert": True}


@contextmanager
def one_block(chain):
    """Transactions sent inside wait in the mempool and are mined together, highest fee first."""
    web3.provider.make_request("evm_setAutomine", [False])
    try:
        yield
        # not chain.mine(): brownie holds its undo lock until the pending transactions confirm
        web3.provider.make_request("evm_mine", [])
    finally:
        web3.provider.make_request("evm_setAutomine", [True])


def pending(fee):
    return {**PENDING, "gas_price": fee}


def mined(*txs):
    """The receipts of transactions mined in one block, checked to be in the order given."""
    receipts = [web3.eth.wait_for_transaction_receipt(tx.txid, timeout=30) for tx in txs]
    assert len({r["blockNumber"] for r in receipts}) == 1
    assert [r["transactionIndex"] for r in receipts] == sorted(r["transactionIndex"] for r in receipts)
    return receipts


def revert_reason(tx):
    tx.wait(1)
    return tx.revert_msg


def test_reveal_without_commitment_reverts(fl, task_id, participants):
    with brownie.reverts(f"UpdateNotCommitted: {participants[0].address.lower()}, 0"):
        reveal(fl, task_id, participants[0], model=111)


def test_copied_reveal_that_front_runs_earns_nothing(fl, task_id, participants, chain):
    author, copier = participants[0], participants[1]
    commit(fl, task_id, author, model=111)
    to_reveal(fl, task_id)
    with one_block(chain):
        honest = reveal(fl, task_id, author, model=111, tx=pending(AUTHOR_FEE), wait=False)
        # the copier sends the pending reveal's calldata as its own, with a higher fee
        copy = reveal(fl, task_id, copier, model=111, tx=pending(COPIER_FEE), wait=False)
    copy_receipt, honest_receipt = mined(copy, honest)
    assert copy_receipt["status"] == 0 and honest_receipt["status"] == 1
    assert revert_reason(copy) == f"UpdateNotCommitted: {copier.address.lower()}, 0"
    assert fl.creditOf(copier) == 0
    assert fl.creditOf(author) == REWARD * 48 // SAMPLES


def test_copier_that_commits_to_a_pending_reveal_earns_nothing(fl, task_id, participants, chain):
    author, copier = participants[0], participants[1]
    commit(fl, task_id, author, model=111)
    to_reveal(fl, task_id)
    with one_block(chain):
        honest = reveal(fl, task_id, author, model=111, tx=pending(AUTHOR_FEE), wait=False)
        # the pending reveal shows the update: the copier commits to it in its own name ahead
        # of the author's reveal, but the commit phase is over
        copy_commit = commit(fl, task_id, copier, model=111, tx=pending(COPIER_FEE))
    commit_receipt, honest_receipt = mined(copy_commit, honest)
    assert commit_receipt["status"] == 0 and honest_receipt["status"] == 1
    assert revert_reason(copy_commit) == f"CommitPhaseClosed: {task_id}, 0, {phases(fl, task_id)[1]}"
    assert fl.creditOf(copier) == 0
    assert fl.creditOf(author) == REWARD * 48 // SAMPLES


def test_another_senders_commitment_cannot_be_revealed(fl, task_id, participants, chain):
    author, copier = participants[0], participants[1]
    authors = commitment_of(task_id, 0, author, 111)
    with one_block(chain):
        honest_commit = fl.commitUpdate(task_id, 0, authors, {"from": author, **pending(AUTHOR_FEE)})
        # the copier front-runs the author's commitment with a copy of it
        copy_commit = fl.commitUpdate(task_id, 0, authors, {"from": copier, **pending(COPIER_FEE)})
    assert [r["status"] for r in mined(copy_commit, honest_commit)] == [1, 1]
    # it opens only for its author: the copier cannot reveal the author's update with it
    copiers = commitment_of(task_id, 0, copier, 111)
    with brownie.reverts(f"UpdateCommitmentMismatch: {authors!r}, {copiers!r}"):
        reveal(fl, task_id, copier, model=111)
    # and it took nothing from the author: its commitment still opens, and is paid
    reveal(fl, task_id, author, model=111)
    assert fl.creditOf(author) == REWARD * 48 // SAMPLES
    assert fl.creditOf(copier) == 0


def test_reveal_of_another_update_than_committed_reverts(fl, task_id, participants):
    author = participants[0]
    committed = commitment_of(task_id, 0, author, 111)
    commit(fl, task_id, author, model=111)
    with brownie.reverts(f"UpdateCommitmentMismatch: {committed!r}, {commitment_of(task_id, 0, author, 222)!r}"):
        reveal(fl, task_id, author, model=222)
    other_cid = commitment_of(task_id, 0, author, 111, "bafy-other")
    with brownie.reverts(f"UpdateCommitmentMismatch: {committed!r}, {other_cid!r}"):
        reveal(fl, task_id, author, model=111, cid="bafy-other")


def test_commitment_lapses_when_its_round_closes(fl, task_id, participants, employer):
    author = participants[0]
    commit(fl, task_id, author, model=111)
    close(fl, task_id, employer)
    with brownie.reverts("RoundNotOpen: 0, 1"):
        reveal(fl, task_id, author, model=111, round_=0)
    with brownie.reverts(f"UpdateNotCommitted: {author.address.lower()}, 1"):
        reveal(fl, task_id, author, model=111, round_=1)
