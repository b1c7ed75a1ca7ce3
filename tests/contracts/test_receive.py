from conftest import reverts


def test_receive_from_stranger_reverts(escrow, accounts):
    with reverts("PaymentUnexpected"):
        accounts[0].transfer(escrow, 1)
