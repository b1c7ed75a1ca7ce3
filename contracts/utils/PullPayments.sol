// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IPullPayments} from "../interfaces/IPullPayments.sol";

/// @title Credits that their owners withdraw (reusable base)
/// @dev Subclasses call `_credit`; money leaves only through `withdraw`: zero the credit, then
/// transfer, under a reentrancy guard.
abstract contract PullPayments is IPullPayments {
    uint256 private constant UNLOCKED = 1;
    uint256 private constant LOCKED = 2;

    mapping(address => uint256) private _credits;
    uint256 private _totalWithdrawn;
    uint256 private _lock = UNLOCKED;

    modifier nonReentrant() {
        if (_lock == LOCKED) revert ReentrantCall();
        _lock = LOCKED;
        _;
        _lock = UNLOCKED;
    }

    /// @inheritdoc IPullPayments
    function withdraw() external nonReentrant {
        uint256 amount = _credits[msg.sender];
        if (amount == 0) revert NothingToWithdraw(msg.sender);
        _credits[msg.sender] = 0;
        _totalWithdrawn += amount;
        emit Withdrawn(msg.sender, amount);
        (bool ok,) = payable(msg.sender).call{value: amount}("");
        if (!ok) revert TransferFailed(msg.sender, amount);
    }

    /// @inheritdoc IPullPayments
    function creditOf(address account) external view returns (uint256) {
        return _credits[account];
    }

    /// @inheritdoc IPullPayments
    function totalWithdrawn() external view returns (uint256) {
        return _totalWithdrawn;
    }

    function _credit(address account, uint256 amount) internal {
        _credits[account] += amount;
    }
}
