"""Stateful test: random jobs, declarations, reveals, deadlines and withdrawals keep the money law.

Written on hypothesis's RuleBasedStateMachine directly: brownie 1.22's compiled
``state_machine`` wrapper fails on ``super()`` under mypyc, so each example reverts to
fn_isolation's snapshot in ``__init__`` the way brownie's wrapper does it.

Law: escrowed + staked = withdrawn + held, where the escrow holds Σ job remaining + Σ credits
and the registry Σ stakes + Σ credits; and a withdrawal pays exactly the caller's credit.
"""

import os

import brownie
from brownie import chain
from eth_utils import keccak
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from conftest import DAY, MIN_STAKE, commitment, job_params

SETTINGS = settings(max_examples=4, stateful_step_count=8, deadline=None,
                    suppress_health_check=list(HealthCheck))
account_ix = st.integers(0, 5)
node_ix = st.integers(0, 4)


class Conservation(RuleBasedStateMachine):
    escrow = registry = verifier = employer = nodes = None  # set by the test

    def __init__(self):
        chain.revert()  # every example starts from the deployed, registered state
        super().__init__()
        self.jobs = []  # job ids
        self.open = {}  # job id -> (stage, rho, [declaration tuples])

    @rule(stages=st.integers(1, 2), reward=st.integers(1, 10**15))
    def create_job(self, stages, reward):
        params, value = job_params(self.verifier, stages=stages, confirmations=2, reward=reward, bounty=reward)
        job_id = self.escrow.createJob(params, {"from": self.employer, "value": value}).return_value
        self.jobs.append(job_id)
        self.open[job_id] = (1, keccak(os.urandom(32)), [])

    @rule(node_ix=node_ix, honest=st.booleans())
    def declare(self, node_ix, honest):
        if not self.jobs:
            return
        job_id = self.jobs[-1]
        stage, rho, decls = self.open[job_id]
        node = self.nodes[node_ix]
        rand = os.urandom(32)
        weights = keccak(b"w%d" % stage) if honest else keccak(rand)
        commit = commitment(rho if honest else rand, rand, node)
        try:
            self.escrow.declare(job_id, stage, weights, 1, commit, rand, {"from": node})
        except brownie.exceptions.VirtualMachineError:
            return
        decls.append((node.address, weights, 1, commit, rand))

    @rule(node_ix=node_ix)
    def reveal(self, node_ix):
        if not self.jobs:
            return
        job_id = self.jobs[-1]
        stage, rho, decls = self.open[job_id]
        ordered = sorted(decls, key=lambda d: int(d[0], 16))
        try:
            self.escrow.reveal(job_id, stage, rho, "bafy", ordered, {"from": self.nodes[node_ix]})
        except brownie.exceptions.VirtualMachineError:
            return
        self.open[job_id] = (stage + 1, keccak(os.urandom(32)), [])

    @rule(days=st.integers(0, 12))
    def sleep(self, days):
        chain.sleep(days * DAY)
        chain.mine()

    @rule()
    def reclaim(self):
        for job_id in self.jobs:
            try:
                self.escrow.reclaim(job_id, {"from": self.employer})
            except brownie.exceptions.VirtualMachineError:
                pass

    @rule(node_ix=node_ix)
    def top_up(self, node_ix):
        node = self.nodes[node_ix]
        if self.registry.stakeOf(node) < MIN_STAKE:
            self.registry.topUp({"from": node, "value": MIN_STAKE})

    @rule(account_ix=account_ix)
    def withdraw(self, account_ix):
        account = ([self.employer] + self.nodes)[account_ix]
        for contract in (self.escrow, self.registry):
            credit = contract.creditOf(account)
            before = account.balance()
            try:
                contract.withdraw({"from": account, "gas_price": 0})
            except brownie.exceptions.VirtualMachineError:
                assert credit == 0
                continue
            # exactly the credit, never more, and the credit is gone
            assert account.balance() - before == credit
            assert contract.creditOf(account) == 0

    @invariant()
    def conservation(self):
        e, r = self.escrow, self.registry
        assert e.totalEscrowed() + r.totalStaked() == (
            e.totalWithdrawn() + r.totalWithdrawn() + e.balance() + r.balance()
        )
        accounts = [self.employer] + self.nodes
        remaining = sum(e.getJob(j).dict()["remaining"] for j in range(1, e.jobCount() + 1))
        assert e.balance() == remaining + sum(e.creditOf(a) for a in accounts)
        assert r.balance() == sum(r.stakeOf(a) + r.creditOf(a) for a in accounts)


def test_conservation_stateful(escrow, registry, verifier, employer, nodes):
    Conservation.escrow, Conservation.registry, Conservation.verifier = escrow, registry, verifier
    Conservation.employer, Conservation.nodes = employer, nodes
    # fn_isolation's snapshot (taken after the module fixtures) is what __init__ reverts to
    run = Conservation.TestCase()
    run.settings = SETTINGS
    run.runTest()
