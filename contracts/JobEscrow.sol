// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {JobLedger} from "./escrow/JobLedger.sol";
import {StageDeclarations} from "./escrow/StageDeclarations.sol";
import {AccuracyProofs} from "./escrow/AccuracyProofs.sol";

/// @title Escrowed training jobs with staged Proof of Training and a zk accuracy proof
/// @notice The deployed contract (`IJobEscrow`): jobs and their escrow (`JobLedger`), stage
/// declarations and reveals (`StageDeclarations`, agreement counted by `StageAgreement`), the
/// final model's accuracy proofs and the bounty (`AccuracyProofs`), and pull payments. It
/// creates the `NodeRegistry` it slashes.
contract JobEscrow is StageDeclarations, AccuracyProofs {
    constructor(uint256 minStake, uint256 slashAmount, uint256 exitCooldown)
        JobLedger(minStake, slashAmount, exitCooldown)
    {}
}
