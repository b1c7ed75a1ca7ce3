// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {IPullPayments} from "./IPullPayments.sol";

/// @title Staked node identities
/// @notice A node stakes at least `minStake` to declare stages. A wrong declaration loses
/// `slashAmount` of it (sent to the escrow, which credits the job's employer). A node leaves
/// with `requestExit`, then `exit` once the cool-down has passed and no declaration it made is
/// still open: a declaration stays open (revealable, slashable) until its job's deadline, so
/// the stake is locked until the latest deadline of the jobs the node declared in.
interface INodeRegistry is IPullPayments {
    /// @notice Read-only state of one node.
    struct Node {
        uint256 stake;
        uint256 lockedUntil;
        uint256 exitAt; // 0: active; otherwise the time from which `exit` may be called
    }

    event NodeRegistered(address indexed node, uint256 stake);
    event StakeToppedUp(address indexed node, uint256 amount, uint256 stake);
    event ExitRequested(address indexed node, uint256 exitAt);
    event NodeExited(address indexed node, uint256 stake);
    event StakeSlashed(address indexed node, uint256 amount, uint256 stake);

    error StakeTooLow(uint256 sent, uint256 minimum);
    error NodeAlreadyRegistered(address node);
    error NodeNotRegistered(address node);
    error NodeExiting(address node, uint256 exitAt);
    error ExitNotRequested(address node);
    error ExitNotReady(address node, uint256 readyAt);
    error CallerNotEscrow(address caller);

    /// @notice Registers the caller with `msg.value` as stake (at least `minStake`).
    function register() external payable;

    /// @notice Adds `msg.value` to the caller's stake (restores it after a slash).
    function topUp() external payable;

    /// @notice Starts the exit cool-down; the node can no longer declare.
    function requestExit() external;

    /// @notice Ends the registration and credits the remaining stake (then `withdraw`).
    function exit() external;

    /// @notice Escrow only: checks `node` may declare and locks its stake until `until`.
    function lockStake(address node, uint256 until) external;

    /// @notice Escrow only: takes up to `slashAmount` from `node`'s stake and sends it to the
    /// escrow. Returns the amount taken.
    function slash(address node) external returns (uint256 amount);

    function nodeOf(address node) external view returns (Node memory);
    function stakeOf(address node) external view returns (uint256);
    /// @notice Whether `node` may declare now (stake >= minStake and not exiting).
    function isActive(address node) external view returns (bool);
    function escrow() external view returns (address);
    function minStake() external view returns (uint256);
    function slashAmount() external view returns (uint256);
    function exitCooldown() external view returns (uint256);
    /// @notice Total wei ever staked (register + topUp), for the conservation law.
    function totalStaked() external view returns (uint256);
    /// @notice Total wei ever slashed and sent to the escrow.
    function totalSlashed() external view returns (uint256);
}
