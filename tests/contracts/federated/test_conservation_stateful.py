"""Stateful test: random tasks, updates, round closes, deadlines, refunds and withdrawals keep
FederatedTask's money law: deposits = withdrawn + held, held = Σ task escrow + Σ credits, and a
withdrawal pays exactly the caller's credit.

On hypothesis's RuleBasedStateMachine directly (as tests/contracts/test_conservation_stateful.py
explains); each example reverts to fn_isolation's snapshot in ``__init__``.
"""

import brownie
from brownie import chain
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from .conftest import SHARDS, commit, params, reveal, update

SETTINGS = settings(max_examples=5, stateful_step_count=12, deadline=None,
                    suppress_health_check=list(HealthCheck))


class Conservation(RuleBasedStateMachine):
    fl = verifier = employer = participants = None  # set by the test

    def __init__(self):
        chain.revert()
        super().__init__()
        self.tasks = []
        self.deposited = 0

    @rule(rounds=st.integers(1, 2), slots=st.integers(1, 3), reward=st.integers(1, 10**15))
    def create_task(self, rounds, slots, reward):
        value = rounds * slots * reward
        tx = self.fl.createTask(params(self.verifier, chain, rounds=rounds, max_updates=slots, reward=reward),
                                {"from": self.employer, "value": value})
        self.tasks.append(tx.return_value)
        self.deposited += value

    @rule(who=st.integers(0, 4), model=st.integers(1, 6))
    def commit_update(self, who, model):
        if not self.tasks:
            return
        task_id = self.tasks[-1]
        try:
            commit(self.fl, task_id, self.participants[who], model=model, round_=self.fl.getTask(task_id)["round"])
        except brownie.exceptions.VirtualMachineError:
            pass

    @rule(who=st.integers(0, 4), model=st.integers(1, 6), a=st.integers(0, 32), b=st.integers(0, 32))
    def submit_update(self, who, model, a, b):
        if not self.tasks:
            return
        task_id = self.tasks[-1]
        try:
            reveal(self.fl, task_id, self.participants[who], model=model, counts=(a, b),
                   round_=self.fl.getTask(task_id)["round"], shards=SHARDS, wait=False)
        except brownie.exceptions.VirtualMachineError:
            pass

    @rule(model=st.integers(100, 200), a=st.integers(0, 32), b=st.integers(0, 32))
    def close_round(self, model, a, b):
        # the next global model's certified count (a + b) is the next round's baseline
        if not self.tasks:
            return
        task_id = self.tasks[-1]
        try:
            self.fl.closeRound(task_id, self.fl.getTask(task_id)["round"], model, "bafy", *update(model, (a, b)),
                               {"from": self.employer})
        except brownie.exceptions.VirtualMachineError:
            pass

    @rule(seconds=st.sampled_from([0, 300, 601, 1200, 3600]))
    def sleep(self, seconds):
        chain.sleep(seconds)
        chain.mine()

    @rule()
    def refund(self):
        for task_id in self.tasks:
            try:
                self.fl.refund(task_id, {"from": self.employer})
            except brownie.exceptions.VirtualMachineError:
                pass

    @rule(who=st.integers(0, 5))
    def withdraw(self, who):
        account = ([self.employer] + list(self.participants))[who]
        credit = self.fl.creditOf(account)
        before = account.balance()
        try:
            self.fl.withdraw({"from": account, "gas_price": 0})
        except brownie.exceptions.VirtualMachineError:
            assert credit == 0
            return
        assert account.balance() - before == credit
        assert self.fl.creditOf(account) == 0

    @invariant()
    def conservation(self):
        fl = self.fl
        accounts = [self.employer] + list(self.participants)
        held = sum(fl.getTask(t)["escrow"] for t in self.tasks) + sum(fl.creditOf(a) for a in accounts)
        assert fl.balance() == held
        assert self.deposited == fl.totalWithdrawn() + fl.balance()


def test_conservation_stateful(fl, verifier, employer, participants):
    Conservation.fl, Conservation.verifier = fl, verifier
    Conservation.employer, Conservation.participants = employer, participants
    # fn_isolation's snapshot (taken after the module fixtures) is what __init__ reverts to
    run = Conservation.TestCase()
    run.settings = SETTINGS
    run.runTest()
