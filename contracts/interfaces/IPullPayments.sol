// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title Pull payments: amounts are credited, then withdrawn by their owner
interface IPullPayments {
    /// @notice `account` withdrew `amount` wei of its credit.
    event Withdrawn(address indexed account, uint256 amount);

    /// @notice The caller has no credit.
    error NothingToWithdraw(address account);
    /// @notice Sending the credit failed (the credit is restored by the revert).
    error TransferFailed(address account, uint256 amount);
    /// @notice A guarded function was entered again during its own execution.
    error ReentrantCall();

    /// @notice Sends the caller its whole credit.
    function withdraw() external;

    /// @notice Credit `account` can withdraw now.
    function creditOf(address account) external view returns (uint256);

    /// @notice Total wei ever withdrawn from this contract (for the conservation law).
    function totalWithdrawn() external view returns (uint256);
}
