// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IPullPayments} from "./IPullPayments.sol";

/// @title Staked node identities whose stake backs their open declarations
/// @notice A node stakes at least `minStake` to declare stages. Every open declaration locks
/// `slashAmount` of the stake as collateral until it is settled, so a node never has more open
/// declarations than its stake covers and a slash always pays. A slashed declaration loses its
/// collateral (sent to the escrow, which credits the job's employer). A node leaves with
/// `requestExit`, then `exit` once the cool-down has passed and none of its declarations is
/// open.
interface INodeRegistry is IPullPayments {
    /// @notice Read-only state of one node.
    struct Node {
        uint256 stake;
        uint256 locked; // collateral of its open declarations
        uint256 exitAt; // 0: active; otherwise the time from which `exit` may be called
    }

    /// @notice A node registered with `stake`.
    event NodeRegistered(address indexed node, uint256 stake);
    /// @notice `amount` was added to the node's stake, now `stake`.
    event StakeToppedUp(address indexed node, uint256 amount, uint256 stake);
    /// @notice The node asked to leave; it may exit from `exitAt`.
    event ExitRequested(address indexed node, uint256 exitAt);
    /// @notice The node left; `stake` was credited to it.
    event NodeExited(address indexed node, uint256 stake);
    /// @notice `amount` of the node's stake was slashed, leaving `stake`.
    event StakeSlashed(address indexed node, uint256 amount, uint256 stake);

    /// @notice The stake sent is below the minimum.
    error StakeTooLow(uint256 sent, uint256 minimum);
    /// @notice The node is registered already.
    error NodeAlreadyRegistered(address node);
    /// @notice The node is not registered.
    error NodeNotRegistered(address node);
    /// @notice The node's stake fell below the minimum (after a slash): top it up to declare.
    error StakeBelowMinimum(address node, uint256 stake, uint256 minimum);
    /// @notice The node asked to exit and can no longer declare.
    error NodeExiting(address node, uint256 exitAt);
    /// @notice `exit` before `requestExit`.
    error ExitNotRequested(address node);
    /// @notice `exit` before `readyAt`.
    error ExitNotReady(address node, uint256 readyAt);
    /// @notice `exit` while declarations backed by the stake are open.
    error CollateralLocked(address node, uint256 locked);
    /// @notice The stake's free part cannot back one more declaration.
    error CollateralInsufficient(address node, uint256 free, uint256 needed);
    /// @notice Only the escrow may make this call.
    error CallerNotEscrow(address caller);

    /// @notice Registers the caller with `msg.value` as stake (at least `minStake`).
    function register() external payable;

    /// @notice Adds `msg.value` to the caller's stake (restores it after a slash).
    function topUp() external payable;

    /// @notice Starts the exit cool-down; the node can no longer declare.
    function requestExit() external;

    /// @notice Ends the registration and credits the stake (then `withdraw`).
    function exit() external;

    /// @notice Escrow only: checks `node` may declare and locks `slashAmount` of its stake for
    /// one more open declaration, unless `carried` (the collateral of the declaration just
    /// settled for it backs the new one).
    function lock(address node, bool carried) external;

    /// @notice Escrow only: a declaration of `node` was settled without slash; frees its collateral.
    function unlock(address node) external;

    /// @notice Escrow only: takes the collateral of one of `node`'s open declarations (up to
    /// `slashAmount` of its stake) and sends it to the escrow. Returns the amount taken.
    function slash(address node) external returns (uint256 amount);

    function nodeOf(address node) external view returns (Node memory);
    function stakeOf(address node) external view returns (uint256);
    /// @notice Whether `node` may declare now: registered, not exiting, stake >= minStake and
    /// enough free stake for one more declaration.
    function isActive(address node) external view returns (bool);
    /// @notice How many more declarations the node's free stake can back.
    function freeDeclarations(address node) external view returns (uint256);
    function escrow() external view returns (address);
    function minStake() external view returns (uint256);
    function slashAmount() external view returns (uint256);
    function exitCooldown() external view returns (uint256);
    /// @notice Total wei ever staked (register + topUp), for the conservation law.
    function totalStaked() external view returns (uint256);
    /// @notice Total wei ever slashed and sent to the escrow.
    function totalSlashed() external view returns (uint256);
}
