import os

import pytest
from eth_utils import keccak

from conftest import REWARD, SLASH, Stage, commitment, reverts


def agreed(escrow, job, nodes, n=3):
    st = Stage(escrow, job, 1)
    for node in nodes[:n]:
        st.declare(node)
    return st


def test_reveal_finalises_and_credits(escrow, job, nodes):
    st = agreed(escrow, job, nodes)
    tx = st.reveal(nodes[1])
    ev = tx.events["StageFinalised"]
    assert (ev["stage"], ev["confirmed"], ev["cid"], ev["revealer"]) == (1, 3, "bafyweights", nodes[1])
    assert len(tx.events["DeclarationRewarded"]) == 3
    assert all(escrow.creditOf(n) == REWARD for n in nodes[:3])
    view = escrow.getJob(job).dict()
    assert view["stagesDone"] == 1 and view["declarations"] == 0 and view["status"] == 1


def test_reveal_last_stage_awaits_test_set(escrow, job, nodes):
    agreed(escrow, job, nodes).reveal(nodes[0])
    st = Stage(escrow, job, 2, model=777)
    for node in nodes[:3]:
        st.declare(node)
    st.reveal(nodes[2])
    view = escrow.getJob(job).dict()
    assert view["status"] == 2 and view["finalModelCommitment"] == 777 and view["finalists"] == 3
    assert escrow.declarationOf(job, nodes[0])[2] is True


def test_reveal_slashes_wrong_weights_and_copied_commitment(escrow, registry, job, nodes, employer):
    st = agreed(escrow, job, nodes)
    st.declare(nodes[3], weights=b"\x09" * 32)
    # a lazy node copies nodes[0]'s published commitment and rand: bound to nodes[0], worthless
    honest = st.decls[0]
    st.declare(nodes[4], weights=keccak(b"other"), commit=honest[3], rand=honest[4])
    before = escrow.creditOf(employer)
    tx = st.reveal(nodes[0])
    slashed = {e["node"] for e in tx.events["DeclarationSlashed"]}
    assert slashed == {nodes[3].address, nodes[4].address}
    assert registry.stakeOf(nodes[3]) == registry.minStake() - SLASH
    assert escrow.creditOf(employer) - before == 2 * SLASH
    assert len(tx.events["StakeSlashed"]) == 2


@pytest.mark.parametrize("wrong", [1, 2])
def test_reveal_agreement_on_a_pair_after_wrong_ones_finalises(escrow, registry, job, nodes, wrong):
    # wrong declarations of other pairs came first (the stage's first, or first and second,
    # pairs); the C honest ones agree on the pair declared after them
    st = Stage(escrow, job, 1)
    for i, node in enumerate(nodes[3:3 + wrong]):
        st.declare(node, weights=keccak(b"wrong %d" % i))
    for node in nodes[:3]:
        st.declare(node)
    tx = st.reveal(nodes[2])
    assert tx.events["StageFinalised"]["confirmed"] == 3
    assert tx.events["StageFinalised"]["weightsHash"] == "0x" + st.weights.hex()
    assert {e["node"] for e in tx.events["DeclarationSlashed"]} == {n.address for n in nodes[3:3 + wrong]}
    assert all(escrow.creditOf(n) == REWARD for n in nodes[:3])


def test_reveal_first_pair_short_of_agreement_reverts(escrow, job, nodes):
    # the stage's first pair has 1 declaration, the other pair C: only the latter reveals
    st = Stage(escrow, job, 1)
    lone = keccak(b"lone")
    st.declare(nodes[3], weights=lone, rho=lone)
    for node in nodes[:3]:
        st.declare(node)
    with reverts("AgreementMissing"):
        st.reveal(nodes[3], rho=lone)


def test_reveal_copier_with_agreed_weights_is_slashed(escrow, registry, job, nodes):
    st = Stage(escrow, job, 1)
    st.declare(nodes[0])
    st.declare(nodes[1])
    # copies the agreed hashes and nodes[0]'s commitment: counts for agreement, never opens
    st.declare(nodes[2], commit=st.decls[0][3], rand=st.decls[0][4])
    tx = st.reveal(nodes[0])
    assert [e["node"] for e in tx.events["DeclarationSlashed"]] == [nodes[2]]
    assert tx.events["StageFinalised"]["confirmed"] == 2


def test_reveal_by_non_declarer_reverts(escrow, job, nodes):
    st = agreed(escrow, job, nodes)
    with reverts("RevealerNotDeclarer"):
        st.reveal(nodes[4])


def test_reveal_wrong_rho_reverts(escrow, job, nodes):
    st = agreed(escrow, job, nodes)
    with reverts("SecretMismatch"):
        st.reveal(nodes[0], rho=keccak(b"guess"))


def test_reveal_before_agreement_reverts(escrow, job, nodes):
    st = agreed(escrow, job, nodes, n=2)
    with reverts("AgreementMissing"):
        st.reveal(nodes[0])


def test_reveal_missing_declaration_reverts(escrow, job, nodes):
    st = agreed(escrow, job, nodes)
    with reverts("DeclarationsIncomplete"):
        st.reveal(nodes[0], decls=st.ordered()[:2])


def test_reveal_unordered_declarations_revert(escrow, job, nodes):
    st = agreed(escrow, job, nodes)
    with reverts("DeclarationsUnordered"):
        st.reveal(nodes[0], decls=list(reversed(st.ordered())))


def test_reveal_altered_declaration_reverts(escrow, job, nodes):
    st = agreed(escrow, job, nodes)
    decls = st.ordered()
    node, weights, model, commit, rand = decls[0]
    decls[0] = (node, weights, model, commit, os.urandom(32))
    with reverts("DeclarationUnknown"):
        st.reveal(nodes[0], decls=decls)


def test_reveal_minority_secret_reverts(escrow, job, nodes):
    # two copiers agree on the hashes but commit to another secret: rho opens 1 of 3
    st = Stage(escrow, job, 1)
    st.declare(nodes[0])
    fake = keccak(b"fake")
    st.declare(nodes[1], commit=commitment(fake, b"\x01" * 32, nodes[1]), rand=b"\x01" * 32)
    st.declare(nodes[2], commit=commitment(fake, b"\x02" * 32, nodes[2]), rand=b"\x02" * 32)
    with reverts("MajorityMissing"):
        st.reveal(nodes[0])


def test_reveal_wrong_stage_reverts(escrow, job, nodes):
    st = agreed(escrow, job, nodes)
    st.stage = 2
    with reverts("StageNotOpen"):
        st.reveal(nodes[0])
