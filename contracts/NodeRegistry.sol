// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {INodeRegistry} from "./interfaces/INodeRegistry.sol";
import {PullPayments} from "./utils/PullPayments.sol";

/// @title Staked node identities (deployed by the JobEscrow it serves)
contract NodeRegistry is INodeRegistry, PullPayments {
    // one slot per node: declare touches it once
    struct Record {
        uint96 stake;
        uint96 locked;
        uint40 exitAt;
        bool registered;
    }

    address public immutable escrow;
    uint256 public immutable minStake;
    uint256 public immutable slashAmount;
    uint256 public immutable exitCooldown;

    mapping(address node => Record) private _nodes;
    uint256 private _totalStaked;
    uint256 private _totalSlashed;

    constructor(uint256 minStake_, uint256 slashAmount_, uint256 exitCooldown_) {
        escrow = msg.sender;
        minStake = minStake_;
        // a declaration's collateral is never zero: a slash must cost its node something
        slashAmount = slashAmount_ == 0 ? 1 : slashAmount_;
        exitCooldown = exitCooldown_;
    }

    modifier onlyEscrow() {
        if (msg.sender != escrow) revert CallerNotEscrow(msg.sender);
        _;
    }

    /// @inheritdoc INodeRegistry
    function register() external payable {
        Record storage node = _nodes[msg.sender];
        if (node.registered) revert NodeAlreadyRegistered(msg.sender);
        if (msg.value < minStake || msg.value == 0) revert StakeTooLow(msg.value, minStake);
        node.registered = true;
        node.stake = uint96(msg.value);
        _totalStaked += msg.value;
        emit NodeRegistered(msg.sender, msg.value);
    }

    /// @inheritdoc INodeRegistry
    function topUp() external payable {
        Record storage node = _nodes[msg.sender];
        if (!node.registered) revert NodeNotRegistered(msg.sender);
        if (msg.value == 0) revert StakeTooLow(0, 1);
        uint256 stake = node.stake + msg.value;
        node.stake = uint96(stake);
        _totalStaked += msg.value;
        emit StakeToppedUp(msg.sender, msg.value, stake);
    }

    /// @inheritdoc INodeRegistry
    function requestExit() external {
        Record storage node = _nodes[msg.sender];
        if (!node.registered) revert NodeNotRegistered(msg.sender);
        if (node.exitAt != 0) revert NodeExiting(msg.sender, node.exitAt);
        uint256 exitAt = block.timestamp + exitCooldown;
        node.exitAt = uint40(exitAt);
        emit ExitRequested(msg.sender, exitAt);
    }

    /// @inheritdoc INodeRegistry
    function exit() external {
        Record memory node = _nodes[msg.sender];
        if (!node.registered) revert NodeNotRegistered(msg.sender);
        if (node.exitAt == 0) revert ExitNotRequested(msg.sender);
        if (block.timestamp < node.exitAt) revert ExitNotReady(msg.sender, node.exitAt);
        // open declarations keep their collateral slashable until they are settled
        if (node.locked != 0) revert CollateralLocked(msg.sender, node.locked);
        delete _nodes[msg.sender];
        _credit(msg.sender, node.stake);
        emit NodeExited(msg.sender, node.stake);
    }

    /// @inheritdoc INodeRegistry
    function lock(address account, bool carried) external onlyEscrow {
        Record storage node = _nodes[account];
        uint256 stake = node.stake;
        if (!node.registered) revert NodeNotRegistered(account);
        if (stake < minStake) revert StakeBelowMinimum(account, stake, minStake);
        if (node.exitAt != 0) revert NodeExiting(account, node.exitAt);
        if (carried) return;
        uint256 locked = node.locked;
        if (stake < locked + slashAmount) revert CollateralInsufficient(account, stake - locked, slashAmount);
        node.locked = uint96(locked + slashAmount);
    }

    /// @inheritdoc INodeRegistry
    function unlock(address account) external onlyEscrow {
        Record storage node = _nodes[account];
        node.locked -= uint96(slashAmount);
    }

    /// @inheritdoc INodeRegistry
    function slash(address account) external onlyEscrow returns (uint256 amount) {
        Record storage node = _nodes[account];
        uint256 stake = node.stake;
        amount = stake < slashAmount ? stake : slashAmount;
        node.stake = uint96(stake - amount);
        node.locked -= uint96(slashAmount);
        if (amount == 0) return 0;
        _totalSlashed += amount;
        emit StakeSlashed(account, amount, stake - amount);
        (bool ok,) = payable(escrow).call{value: amount}("");
        if (!ok) revert TransferFailed(escrow, amount);
    }

    /// @inheritdoc INodeRegistry
    function nodeOf(address account) external view returns (Node memory) {
        Record memory node = _nodes[account];
        return Node(node.stake, node.locked, node.exitAt);
    }

    /// @inheritdoc INodeRegistry
    function stakeOf(address account) external view returns (uint256) {
        return _nodes[account].stake;
    }

    /// @inheritdoc INodeRegistry
    function isActive(address account) external view returns (bool) {
        Record memory node = _nodes[account];
        return node.registered && node.exitAt == 0 && node.stake >= minStake
            && node.stake >= uint256(node.locked) + slashAmount;
    }

    /// @inheritdoc INodeRegistry
    function freeDeclarations(address account) external view returns (uint256) {
        Record memory node = _nodes[account];
        if (!node.registered || node.exitAt != 0 || node.stake < minStake) return 0;
        return (uint256(node.stake) - node.locked) / slashAmount;
    }

    /// @inheritdoc INodeRegistry
    function totalStaked() external view returns (uint256) {
        return _totalStaked;
    }

    /// @inheritdoc INodeRegistry
    function totalSlashed() external view returns (uint256) {
        return _totalSlashed;
    }
}
