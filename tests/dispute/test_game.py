"""StageDispute on a real Anvil, played by real traces of a real stage: the index rules equal
the stage on every operation; a fabricated stage is overturned by one honest challenger
wherever the lie sits; a liar challenging an honest claim loses its bond; a side that stops
answering loses; every game ends within the round bound."""

from __future__ import annotations

import numpy as np
import pytest

from tests.dispute.conftest import BOND, RESPONSE, WINDOW, advance, dispute, mlp, reverts, side_for
from zkpot.chain.dispute import Challenger, Defender, play
from zkpot.hashing import keccak
from zkpot.pot import merkle
from zkpot.pot.game import Fabricated, Side, UnsupportedStage, program
from zkpot.pot.trace import trace_stage
from zkpot.spec import ModelSpec, preset


@pytest.fixture(scope="module")
def honest() -> Side:
    return side_for(mlp(0.9))


def run_game(accounts, deployment, defender_side: Side, challenger_side: Side):
    d = Defender(dispute(accounts, deployment, 1), defender_side)
    c = Challenger(dispute(accounts, deployment, 2), challenger_side)
    cid = d.claim(BOND)
    gid = c.challenge(cid)
    play(d.dispute, gid, d, c)
    return d.dispute, cid, gid


# ---- the index rules


@pytest.mark.parametrize("momentum", [0.9, 0.0])
def test_the_rules_recompute_every_operation_of_a_batch_as_the_stage_does(accounts, deployment, momentum):
    side = side_for(mlp(momentum))
    rules = accounts[0].contract("MlpStepRules", deployment.rules)
    p = side.program
    for j in (0, side.batches - 1):                  # a batch of 8, and the last one of 9
        row0, b = p.batches()[j]
        trees = side.tensors(j)
        frame = ([t.root for t in trees], side.state_root(j), side.data.root, side.labels.root, row0, b)
        assert accounts[0].call(rules.functions.opCount(p.abi())) == len(p.ops)
        for t, (kind, l, name) in enumerate(p.ops):
            n = accounts[0].call(rules.functions.opLength(p.abi(), b, t))
            assert n == trees[t].n == p.length(b, t), name
            steps = tuple(accounts[0].call(rules.functions.steps(p.abi(), b, t, 0)))
            assert steps == (p.steps(b, t), p.reduction(b, t)[1])
            for e in sorted({0, 7 % n, n // 2, n - 1}):
                for step in range(max(steps[0], 1)):
                    acc = side.partial(j, t, e, step) if steps[0] else 0
                    got = accounts[0].call(rules.functions.evaluate(p.abi(), frame, t, e, step, acc,
                                                                   side.operands(j, t, e, step)))
                    want = side.partial(j, t, e, step + 1) if steps[0] else side.value(j, t, e)
                    assert got == want, (name, e, step)


def test_an_operand_not_at_the_rules_index_is_refused(accounts, deployment, honest):
    rules = accounts[0].contract("MlpStepRules", deployment.rules)
    p, j = honest.program, 0
    row0, b = p.batches()[j]
    trees = honest.tensors(j)
    frame = ([t.root for t in trees], honest.state_root(j), honest.data.root, honest.labels.root, row0, b)
    t = p.index("Param", 1)
    ops = honest.operands(j, t, 3, 0)
    ops[1] = honest.operands(j, t, 4, 0)[1]          # the gradient of the next parameter: a valid opening
    with reverts("OpeningInvalid"):
        accounts[0].call(rules.functions.evaluate(p.abi(), frame, t, 3, 0, 0, ops))


def test_a_partial_sum_outside_its_range_is_refused(accounts, deployment, honest):
    # partial sums reach the one step as values (committed leaves hold int64 words only)
    rules = accounts[0].contract("MlpStepRules", deployment.rules)
    p, j = honest.program, 0
    row0, b = p.batches()[j]
    frame = ([t.root for t in honest.tensors(j)], honest.state_root(j), honest.data.root, honest.labels.root, row0, b)
    t = p.index("FwdLinear", 0)
    ops = honest.operands(j, t, 0, 1)
    at = lambda acc: rules.functions.evaluate(p.abi(), frame, t, 0, 1, acc, ops)      # noqa: E731
    assert accounts[0].call(at(honest.partial(j, t, 0, 1))) == honest.partial(j, t, 0, 2)
    for acc in (2**92, -2**92):
        with reverts("OperandOutOfRange"):
            accounts[0].call(at(acc))


def test_a_side_keeps_every_eighth_state_and_makes_the_others_as_the_stage_does():
    side = side_for(mlp(0.9), samples=8 * 19 + 1)              # 19 batches, the last of 9
    assert side.batches == 19 and sorted(side._states) == [0, 8, 16, 19]
    full = trace_stage(side.spec, side.state, side.chunk, 1, roots_at=[], keep_states=True)
    for k in (13, 17, *range(20)):                            # a segment's states, then every other
        assert np.array_equal(side.state_vector(k), full.states[k]), k
    assert side.end_root() == merkle.root(full.states[19])


def test_stages_the_game_cannot_judge_are_refused_by_name(accounts, deployment):
    with pytest.raises(UnsupportedStage, match="Dropout"):
        program(preset("digits-mlp"), 64)
    with pytest.raises(UnsupportedStage, match="Conv2d"):
        program(preset("digits-cnn"), 64)
    with pytest.raises(UnsupportedStage, match="SGD only"):
        program(preset("wine-mlp"), 64)
    assert program(preset("digits28-mlp"), 64).dims == (784, 256, 128, 10)
    with pytest.raises(UnsupportedStage, match="rounds to 0"):           # a buffer the program would not name
        program(mlp(1e-9), 64)
    big = mlp(0.9, batch=4096)
    with pytest.raises(UnsupportedStage, match="4097 samples"):          # a trailing sample joins a full batch
        program(big, 8193)
    with pytest.raises(UnsupportedStage, match="1 samples"):
        program(big, 1)
    p = program(big, 8194)
    with reverts("ProgramInvalid"):
        dispute(accounts, deployment, 1).send("claim", (p.abi()[0], 4096, 8193, p.lr_q, p.mu_q), bytes(32),
                                              bytes(32), bytes(32), bytes(32), value=BOND)


@pytest.mark.parametrize("dims, reason", [
    ([64, 16, 1001], "classes"),                         # the spec allows at most 1,000 classes
    ([4096, 1221, 10], "parameters"),                    # 5,014,657 parameters: over the spec's 5,000,000
])
def test_a_claim_about_a_shape_the_spec_refuses_is_refused(accounts, deployment, dims, reason):
    # no honest node could compute such a stage, so no claim about it could ever be opposed
    from zkpot.spec import SpecError, infer_shapes
    layers = []
    for i, (a, b) in enumerate(zip(dims, dims[1:])):
        layers += ([{"type": "ReLU"}] if i else []) + [{"type": "Linear", "in_features": a, "out_features": b}]
    spec = ModelSpec.from_json({"layers": layers, "optimizer": {"type": "sgd", "lr": 0.1}, "batch_size": 8})
    with pytest.raises(SpecError, match=reason):
        infer_shapes(spec, (dims[0],), dims[-1])
    with pytest.raises(UnsupportedStage, match=reason):       # nor does the node make its program
        program(spec, 64)
    with reverts("ProgramInvalid"):
        dispute(accounts, deployment, 1).send("claim", (dims, 8, 64, 2**20, 0), bytes(32), bytes(32), bytes(32),
                                              bytes(32), value=BOND)
    near = [64, 16, 1000] if reason == "classes" else [4096, 1217, 10]        # at the bounds: accepted
    dispute(accounts, deployment, 1).send("claim", (near, 8, 64, 2**20, 0), bytes(32), bytes(32), bytes(32),
                                          bytes(32), value=BOND)


# ---- whole games


LIES = [  # (operation kind, layer, element, partial sum the lie starts at)
    ("State", 0, 5, None),                      # a made-up parameter in the final state
    ("State", 0, -1, None),                     # the step count
    ("FwdLinear", 0, 21, None),                 # a forward output, its sum right
    ("FwdLinear", 2, 9, 1),                     # ... its sum wrong from the second step on
    ("LossMax", 0, 3, None),
    ("LossExp", 0, 17, None),
    ("LossGrad", 0, 4, None),
    ("WeightGrad", 1, 100, 0),                  # a weight gradient, wrong from the first step
    ("WeightGrad", 0, 64 * 16 + 2, None),       # a bias gradient
    ("Momentum", 2, 30, None),
    ("BwdLinear", 1, 33, None),
    ("BwdRelu", 0, 40, None),
]


@pytest.mark.parametrize("kind,layer,element,partial_from", LIES)
def test_a_fabricated_stage_is_overturned_by_one_honest_challenger(accounts, deployment, honest, kind, layer,
                                                                   element, partial_from):
    p = honest.program
    j = 2
    t = p.index(kind, layer)
    n = p.length(p.batches()[j][1], t)
    e = element % n
    liar = Fabricated(honest, j, t, e, delta=3, partial_from=partial_from)
    game, cid, gid = run_game(accounts, deployment, liar, honest)
    g = game.game(gid)
    assert g["phase"] == "Done" and g["winner"] == accounts[2].address
    assert (g["lo"], g["op"], g["element"]) == (j, t, e)          # the lie itself was found
    assert game.claim(cid)["state"] == "Overturned"
    assert max(g["defenderMoves"], g["challengerMoves"]) <= p.rounds_bound(t, p.batches()[j][1])
    with reverts("ClaimClosed"):                                  # an overturned claim takes no more games
        Challenger(dispute(accounts, deployment, 3), honest).challenge(cid)


def test_the_winner_is_paid_half_the_losers_bond_and_money_is_conserved(accounts, deployment, honest):
    p = honest.program
    liar = Fabricated(honest, 4, p.index("Param", 0), 77)
    w3 = accounts[0].w3
    before = w3.eth.get_balance(deployment.game)
    game = dispute(accounts, deployment, 0)
    beneficiary = game.client.call(game.contract.functions.beneficiary())
    owed_before = {a: game.credit(a) for a in (accounts[2].address, beneficiary)}
    game, cid, gid = run_game(accounts, deployment, liar, honest)
    assert game.credit(accounts[2].address) - owed_before[accounts[2].address] == BOND + BOND // 2
    assert game.credit(beneficiary) - owed_before[beneficiary] == BOND - BOND // 2
    assert w3.eth.get_balance(deployment.game) == before + 2 * BOND
    challenger = dispute(accounts, deployment, 2)
    owed = challenger.credit(accounts[2].address)
    challenger.send("withdraw")
    assert w3.eth.get_balance(deployment.game) == before + 2 * BOND - owed
    with reverts("NothingOwed"):
        challenger.send("withdraw")


def test_a_defender_racing_its_own_second_identity_still_loses_half_its_bond(accounts, deployment, honest):
    """The fabricator challenges its own claim from a second account and loses that game at
    once (garbage in a padding leaf would do; here it simply stops), before an honest
    challenger can finish: it gets back only half its bond, and the honest challenger its own."""
    p = honest.program
    liar = Fabricated(honest, 2, p.index("State"), 1)
    d = Defender(dispute(accounts, deployment, 1), liar)
    puppet = Challenger(dispute(accounts, deployment, 3), honest)
    c = Challenger(dispute(accounts, deployment, 2), honest)
    owed = {i: d.dispute.credit(accounts[i].address) for i in (1, 2, 3)}
    cid = d.claim(BOND)
    own = puppet.challenge(cid)
    gid = c.challenge(cid)
    advance(accounts[0], RESPONSE + 1)
    d.dispute.send("timeout", own)                       # the defender "loses" to its puppet first
    assert d.dispute.claim(cid)["state"] == "Overturned"
    c.dispute.send("abandon", gid)                       # the honest game ends: its bond returns
    gained = {i: d.dispute.credit(accounts[i].address) - owed[i] for i in (1, 2, 3)}
    assert gained == {1: 0, 2: BOND, 3: BOND + BOND // 2}  # defender + puppet: 1.5 bonds of 2


@pytest.mark.parametrize("kind,layer,element,partial_from", [("State", 0, 11, None), ("FwdLinear", 1, 5, 0),
                                                             ("LossSum", 0, 2, None), ("Param", 1, 8, None)])
def test_a_liar_challenging_an_honest_claim_loses_its_bond(accounts, deployment, honest, kind, layer, element,
                                                           partial_from):
    p = honest.program
    t = p.index(kind, layer)
    liar = Fabricated(honest, 1, t, element, delta=-2, partial_from=partial_from)
    credit = dispute(accounts, deployment, 1).credit(accounts[1].address)
    game, cid, gid = run_game(accounts, deployment, honest, liar)
    g = game.game(gid)
    assert g["phase"] == "Done" and g["winner"] == accounts[1].address
    assert game.claim(cid)["state"] == "Open"
    assert game.credit(accounts[1].address) - credit == BOND // 2       # half the liar's bond
    advance(accounts[0], WINDOW + 1)
    game.send("settle", cid)                                            # the claim is final, its bond back
    assert game.claim(cid)["state"] == "Final"
    assert game.credit(accounts[1].address) - credit == BOND + BOND // 2


def test_the_defender_of_an_overturned_claim_wins_nothing_by_timeout(accounts, deployment, honest):
    liar = Fabricated(honest, 2, honest.program.index("LossGrad"), 3)
    d = Defender(dispute(accounts, deployment, 1), liar)
    first = Challenger(dispute(accounts, deployment, 3), honest)
    slow = Challenger(dispute(accounts, deployment, 2), honest)
    cid = d.claim(BOND)
    g1, g2 = first.challenge(cid), slow.challenge(cid)
    d.move(g2)                                      # the slow challenger now has to answer, and does not
    play(d.dispute, g1, d, first)
    assert d.dispute.claim(cid)["state"] == "Overturned"
    owed = {i: d.dispute.credit(accounts[i].address) for i in (1, 2)}
    advance(accounts[0], RESPONSE + 1)
    d.dispute.send("timeout", g2)
    assert d.dispute.credit(accounts[1].address) == owed[1]                 # nothing for the liar
    assert d.dispute.credit(accounts[2].address) - owed[2] == BOND          # the slow challenger's bond back


@pytest.mark.parametrize("stopper", ["defender", "challenger"])
def test_a_side_that_stops_answering_loses(accounts, deployment, honest, stopper):
    liar = Fabricated(honest, 3, honest.program.index("BwdLinear", 1), 10)
    d = Defender(dispute(accounts, deployment, 1), liar)
    c = Challenger(dispute(accounts, deployment, 2), honest)
    cid = d.claim(BOND)
    gid = c.challenge(cid)
    for _ in range(3):
        d.move(gid)
        c.move(gid)
    quiet, other = (d, c) if stopper == "defender" else (c, d)
    other.move(gid)                                     # the other side has moved; the quiet one does not
    with reverts("NotYet"):
        other.dispute.send("timeout", gid)
    advance(accounts[0], RESPONSE + 1)
    with reverts("Late"):
        quiet.move(gid)
    other.dispute.send("timeout", gid)
    g = other.dispute.game(gid)
    winner = accounts[2] if stopper == "defender" else accounts[1]
    assert g["phase"] == "Done" and g["winner"] == winner.address
    assert other.dispute.claim(cid)["state"] == ("Overturned" if stopper == "defender" else "Open")


def test_a_resolve_after_the_challengers_deadline_is_refused_and_the_defender_wins_by_timeout(
        accounts, deployment, honest):
    # found by an attack: a late resolve raced timeout, so the order of two transactions decided
    liar = Fabricated(honest, 1, honest.program.index("Param", 0), 2)
    d = Defender(dispute(accounts, deployment, 1), liar)
    c = Challenger(dispute(accounts, deployment, 2), honest)
    gid = c.challenge(d.claim(BOND))
    while d.dispute.game(gid)["phase"] != "Resolve":
        d.move(gid) or c.move(gid)
    advance(accounts[0], RESPONSE + 1)
    with reverts("Late"):
        c.move(gid)
    with reverts("Late"):                                   # nor by anyone else
        dispute(accounts, deployment, 3).send("resolve", gid, *c.next_move(gid, d.dispute.game(gid))[1])
    d.dispute.send("timeout", gid)
    assert d.dispute.game(gid)["winner"] == accounts[1].address


def test_moves_out_of_turn_and_invalid_moves_are_refused(accounts, deployment, honest):
    p = honest.program
    liar = Fabricated(honest, 0, p.index("Param", 0), 1)        # 1,040 elements: five leaves
    d = Defender(dispute(accounts, deployment, 1), liar)
    c = Challenger(dispute(accounts, deployment, 2), honest)
    cid = d.claim(BOND)
    with reverts("BondWrong"):
        c.dispute.send("challenge", cid, c.program, honest.end_root(), value=BOND - 1)
    with reverts("RootsMismatch"):                          # nothing to dispute: the same end root
        c.dispute.send("challenge", cid, c.program, liar.end_root(), value=BOND)
    gid = c.challenge(cid)
    with reverts("NotYourMove"):
        c.dispute.send("answerState", gid, True)
    with reverts("NotYourMove"):                            # a stranger cannot move for the defender
        dispute(accounts, deployment, 3).send("postState", gid, bytes(32))
    while d.dispute.game(gid)["phase"] == "Batches":
        d.move(gid) or c.move(gid)
    roots = liar.op_roots(0)
    with reverts("RootsMismatch"):                          # the last root must be the disputed state
        d.dispute.send("postOperations", gid, d.program, roots[:-1] + [bytes(32)])
    with reverts("RootsMismatch"):
        d.dispute.send("postOperations", gid, d.program, roots[:-1])
    d.move(gid)
    with reverts("ProgramMismatch"):
        c.dispute.send("disputeOperation", gid, program(mlp(0.5), 41).abi(), roots, 0)
    c.move(gid)
    with reverts("RevealInvalid"):                          # children that do not hash to the node
        d.dispute.send("revealNode", gid, bytes(32), bytes(32))
    while d.dispute.game(gid)["height"] > 0:
        d.move(gid) or c.move(gid)
    g = d.dispute.game(gid)
    chunk = liar.leaf(0, g["op"], g["index"])
    for short in (chunk[:-8], chunk + bytes(8)):            # a leaf of any other length than 2,048 bytes
        with reverts("RevealInvalid"):
            d.dispute.send("revealLeaf", gid, short)
    play(d.dispute, gid, d, c)
    assert d.dispute.game(gid)["winner"] == accounts[2].address


def test_a_claim_outside_the_window_takes_no_challenge(accounts, deployment, honest):
    liar = Fabricated(honest, 0, honest.program.index("State"), 0)
    d = Defender(dispute(accounts, deployment, 1), liar)
    cid = d.claim(BOND)
    with reverts("NotYet"):
        d.dispute.send("settle", cid)
    advance(accounts[0], WINDOW + 1)
    with reverts("ClaimClosed"):
        Challenger(dispute(accounts, deployment, 2), honest).challenge(cid)
    with reverts("BondWrong"):
        d.dispute.send("claim", d.program, honest.data.root, honest.labels.root, honest.state_root(0),
                       honest.end_root(), value=BOND - 1)


def _tree_over(leaves: list[bytes], tree: merkle.TensorTree) -> merkle.TensorTree:
    """The tree of ``tree``'s length and values over other leaves (levels as merkle.tree makes them)."""
    levels = [list(leaves)]
    for _ in range(merkle.depth(tree.n)):
        below = levels[-1] + [merkle.EMPTY] * (len(levels[-1]) % 2)
        levels.append([keccak(merkle.NODE + below[i] + below[i + 1]) for i in range(0, len(below), 2)])
    root = keccak(merkle.ROOT + tree.n.to_bytes(32, "big") + levels[-1][0])
    return merkle.TensorTree(root, tree.n, tuple(tuple(lv) for lv in levels), tree.values)


class PaddedLiar(Fabricated):
    """A defender whose tree of operation t differs from the honest one only in its padding:
    every real value is right, the root is not. The garbage is a nonzero value past the end in
    the last leaf, or (``subtree``) a leaf past the end that is not bytes32(0)."""

    def __init__(self, honest: Side, j: int, t: int, subtree: bool = False):
        super().__init__(honest, j, t, 0, delta=0)
        tree = honest.tensors(j)[t]
        leaves = list(tree.levels[0])
        self.pad_leaf, self.pad_chunk = None, None
        if subtree:
            assert len(leaves) % 2, "the last leaf needs an empty sibling"
            leaves.append(merkle.leaf_hash([7]))
        else:
            self.pad_leaf = len(leaves) - 1
            values = merkle.unpack(tree.chunk(tree.n - 1))
            values[-1] = 7                                       # a nonzero value past the end
            self.pad_chunk = merkle.pack(values)
            leaves[-1] = merkle.leaf_hash(self.pad_chunk)
        self._padded = _tree_over(leaves, tree)

    def tensors(self, j: int):
        trees = super().tensors(j)
        return trees if j != self.j else trees[:self.t] + [self._padded] + trees[self.t + 1:]

    def leaf(self, j: int, t: int, index: int) -> bytes:
        if (j, t, index) == (self.j, self.t, self.pad_leaf):
            return self.pad_chunk
        return super().leaf(j, t, index)


def test_a_defender_with_garbage_in_the_padding_loses_at_once(accounts, deployment, honest):
    p = honest.program
    t = p.index("LossMax")                                     # 8 elements: one leaf, 248 padding slots
    liar = PaddedLiar(honest, 1, t)
    game, cid, gid = run_game(accounts, deployment, liar, honest)
    g = game.game(gid)
    assert g["winner"] == accounts[2].address and game.claim(cid)["state"] == "Overturned"
    ended = game.events("GameEnded", gid)[-1]
    assert ended["reason"] == "padding not zero" and g["op"] == t


def test_a_defender_with_a_leaf_past_the_end_loses_at_once(accounts, deployment, honest):
    p = honest.program
    t = p.index("WeightGrad", 0)                     # 16 x (64 + 1) = 1,040 elements: five leaves and an empty one
    assert -(-p.length(p.batches()[1][1], t) // merkle.LEAF_SIZE) == 5
    liar = PaddedLiar(honest, 1, t, subtree=True)
    game, cid, gid = run_game(accounts, deployment, liar, honest)
    g = game.game(gid)
    assert g["winner"] == accounts[2].address and game.claim(cid)["state"] == "Overturned"
    ended = game.events("GameEnded", gid)[-1]
    assert ended["reason"] == "padding not empty" and g["op"] == t
