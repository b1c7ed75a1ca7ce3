"""Stateful test: random jobs, honest and adversarial declarations, openings, deadlines,
settlements, proofs and withdrawals keep the money law and the agreement's two promises.

Written on hypothesis's RuleBasedStateMachine directly: brownie 1.22's compiled
``state_machine`` wrapper fails on ``super()`` under mypyc, so each example reverts to
fn_isolation's snapshot in ``__init__`` the way brownie's wrapper does it.

Actors per declaration: an honest trainer (the attempt's true ρ, H(S)), a copier (declares a
commitment it saw, or any hash: it cannot open it), a fabricator (all fabricators of an attempt
commit to one invented result and open it), a withholder (an honest trainer that never
opens). Attackers (copiers and fabricators) stay below C per attempt: the bound the protocol
assumes (docs/pot.md).

Invariants:
- money: escrowed + staked = withdrawn + held; the escrow holds Σ remaining + Σ owed + Σ
  credits, the registry Σ stakes + Σ credits; a withdrawal pays exactly the caller's credit;
- no node that did not train is ever paid: every reward goes to an honest trainer of the
  attempt that finalised the stage;
- an honest group of C that trained is finalised and paid: an attempt in which C honest
  trainers opened finalised its stage with the honest result, and settling pays them.
"""

import brownie
from brownie import chain
from eth_utils import keccak
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from conftest import COMMIT_WINDOW, DAY, MIN_STAKE, MODEL, REVEAL_WINDOW, SHARD, job_params, proof, \
    publish_test_set

SETTINGS = settings(max_examples=6, stateful_step_count=25, deadline=None,
                    suppress_health_check=list(HealthCheck))
node_ix = st.integers(0, 8)
ROLES = ("honest", "honest", "honest", "copier", "fabricator", "withholder")


def values(job, stage, attempt, role):
    """(rho, weights) an actor declares: the attempt's true result, or the invented one."""
    tag = b"true" if role in ("honest", "withholder") else b"fabricated"
    base = keccak(b"%s %d %d %d" % (tag, job, stage, attempt))
    return base, keccak(base)


class Agreement(RuleBasedStateMachine):
    escrow = registry = verifier = employer = nodes = None  # set by the test

    def __init__(self):
        chain.revert()  # every example starts from the deployed, registered state
        super().__init__()
        self.job = None
        self.declared = {}   # (job, stage, attempt) -> {address: (role, opening)}
        self.opened = {}     # (job, stage, attempt) -> [address] in opening order
        self.paid_ok = set()  # (job, stage, address): honest trainers of the final attempt

    # ---- helpers ---------------------------------------------------------------------------
    def _attempt(self):
        a = self.escrow.attemptOf(self.job).dict()
        return a["stage"], a["attempt"], a["phase"]

    def _send(self, fn, *args, sender):
        try:
            return fn(*args, {"from": sender})
        except brownie.exceptions.VirtualMachineError:
            return None

    # ---- rules -------------------------------------------------------------------------------
    @rule(stages=st.integers(1, 2), confirmations=st.integers(1, 3), reward=st.integers(1, 10**15))
    def create_job(self, stages, confirmations, reward):
        params, value = job_params(self.verifier, stages=stages, confirmations=confirmations, reward=reward,
                                   bounty=3 * reward + 1)
        self.job = self.escrow.createJob(params, {"from": self.employer, "value": value}).return_value

    @precondition(lambda self: self.job is not None)
    @rule(ix=node_ix, role=st.sampled_from(ROLES), data=st.data())
    def declare(self, ix, role, data):
        stage, attempt, phase = self._attempt()
        if stage == 0:
            return
        node = self.nodes[ix]
        c = self.escrow.getJob(self.job).dict()["confirmations"]
        key = (self.job, stage, attempt if phase == 1 else attempt + 1)
        decls = self.declared.setdefault(key, {})
        attackers = sum(1 for r, _ in decls.values() if r in ("copier", "fabricator"))
        if role in ("copier", "fabricator") and attackers + 1 >= c:
            role = "honest"     # keep attackers below C: the bound the protocol assumes
        rho, weights = values(self.job, stage, key[2], role)
        rand = keccak(b"rand %d %d %d %d" % (self.job, stage, key[2], ix))
        commit = self.escrow.commitmentOf(rho, weights, MODEL, rand, node)
        if role == "copier":
            seen = [o for r, o in decls.values() if r != "copier"]
            commit = data.draw(st.sampled_from(seen)).get("commit") if seen else keccak(rand)
        tx = self._send(self.escrow.declare, self.job, stage, commit, sender=node)
        if tx is None:
            return
        self._check_rewards(tx)     # a declaration settles the node's previous one first
        attempt_now = tx.events["StageDeclared"]["attempt"]
        key = (self.job, stage, attempt_now)
        self.declared.setdefault(key, {})[node.address] = (
            role, {"opening": (rho, weights, MODEL, rand, "bafy"), "commit": commit})

    @precondition(lambda self: self.job is not None)
    @rule(ix=node_ix)
    def reveal(self, ix):
        node = self.nodes[ix]
        rec = self.escrow.declarationOf(self.job, node).dict()
        if rec["stage"] == 0:
            return
        key = (self.job, rec["stage"], rec["attempt"])
        role, decl = self.declared.get(key, {}).get(node.address, (None, None))
        if role not in ("honest", "fabricator"):
            return              # copiers cannot open; withholders will not
        tx = self._send(self.escrow.reveal, self.job, rec["stage"], decl["opening"], sender=node)
        if tx is not None and tx.events["StageRevealed"]["position"] != 255:
            self.opened.setdefault(key, []).append((node.address, role))
        if tx is not None and "StageFinalised" in tx.events:
            honest = {a for a, (r, _) in self.declared[key].items() if r in ("honest", "withholder")}
            self.paid_ok |= {(self.job, rec["stage"], a) for a in honest}

    @rule(seconds=st.sampled_from([0, COMMIT_WINDOW + 1, REVEAL_WINDOW + 1, DAY + 1, 11 * DAY]))
    def sleep(self, seconds):
        chain.sleep(seconds)
        chain.mine()

    @precondition(lambda self: self.job is not None)
    @rule(ix=node_ix)
    def settle(self, ix):
        node = self.nodes[ix]
        tx = self._send(self.escrow.settle, self.job, node, sender=self.employer)
        if tx is not None:
            self._check_rewards(tx)

    def _check_rewards(self, tx):
        for ev in tx.events["DeclarationRewarded"] if "DeclarationRewarded" in tx.events else []:
            # no node that did not train is ever paid
            assert (ev["jobId"], ev["stage"], ev["node"]) in self.paid_ok, ev

    @precondition(lambda self: self.job is not None)
    @rule(correct=st.integers(0, 64))
    def certificate(self, correct):
        job = self.escrow.getJob(self.job).dict()
        if job["status"] == 2:
            self._send(lambda *a: publish_test_set(self.escrow, self.job, self.employer), sender=self.employer)
        elif job["status"] == 3:
            self._send(self.escrow.submitAccuracyProof, self.job, 0, proof(SHARD, job["finalModelCommitment"],
                                                                            correct), [], sender=self.nodes[0])

    @precondition(lambda self: self.job is not None)
    @rule()
    def close_out(self):
        self._send(self.escrow.forfeitBounty, self.job, sender=self.nodes[0])
        self._send(self.escrow.reclaim, self.job, sender=self.employer)

    @rule(ix=node_ix)
    def top_up(self, ix):
        node = self.nodes[ix]
        if self.registry.stakeOf(node) < MIN_STAKE:
            self.registry.topUp({"from": node, "value": MIN_STAKE})

    @rule(ix=st.integers(0, 9))
    def withdraw(self, ix):
        account = ([self.employer] + self.nodes)[ix]
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

    # ---- invariants --------------------------------------------------------------------------
    @invariant()
    def conservation(self):
        e, r = self.escrow, self.registry
        assert e.totalEscrowed() + r.totalStaked() == (
            e.totalWithdrawn() + r.totalWithdrawn() + e.balance() + r.balance()
        )
        accounts = [self.employer] + self.nodes
        jobs = [e.getJob(j).dict() for j in range(1, e.jobCount() + 1)]
        held = sum(j["remaining"] + j["owed"] for j in jobs)
        assert e.balance() == held + sum(e.creditOf(a) for a in accounts)
        assert r.balance() == sum(r.stakeOf(a) + r.creditOf(a) for a in accounts)

    @invariant()
    def honest_group_finalises(self):
        # C honest openings in one attempt: that attempt finalised the stage, with their result
        for (job, stage, attempt), openers in self.opened.items():
            c = self.escrow.getJob(job).dict()["confirmations"]
            if sum(1 for _, role in openers if role == "honest") >= c:
                result = self.escrow.stageResult(job, stage).dict()
                rho, weights = values(job, stage, attempt, "honest")
                key = self.escrow.openingKey(rho, weights, MODEL, "bafy")
                assert result["attempt"] == attempt and result["key"] == key[:50], (result, key)


def test_agreement_stateful(escrow, registry, verifier, employer, nodes):
    Agreement.escrow, Agreement.registry, Agreement.verifier = escrow, registry, verifier
    Agreement.employer, Agreement.nodes = employer, nodes
    # fn_isolation's snapshot (taken after the module fixtures) is what __init__ reverts to
    run = Agreement.TestCase()
    run.settings = SETTINGS
    run.runTest()
