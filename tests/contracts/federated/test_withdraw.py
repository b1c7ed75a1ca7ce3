import brownie

from .conftest import REWARD, SAMPLES, submit


def test_withdraw_pays_participant_its_reward(fl, task_id, participants):
    submit(fl, task_id, participants[0], model=111, counts=(32, 32))
    before = participants[0].balance()
    tx = fl.withdraw({"from": participants[0], "gas_price": 0})
    assert participants[0].balance() == before + REWARD
    assert tx.events["Withdrawn"]["amount"] == REWARD
    assert fl.creditOf(participants[0]) == 0


def test_withdraw_twice_reverts(fl, task_id, participants):
    submit(fl, task_id, participants[0], model=111, counts=(20, 30))
    fl.withdraw({"from": participants[0]})
    with brownie.reverts(f"NothingToWithdraw: {participants[0].address.lower()}"):
        fl.withdraw({"from": participants[0]})
    assert fl.totalWithdrawn() == REWARD * 50 // SAMPLES
