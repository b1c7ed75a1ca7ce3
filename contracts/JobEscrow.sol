// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {JobLedger} from "./escrow/JobLedger.sol";
import {StageDeclarations} from "./escrow/StageDeclarations.sol";
import {AccuracyProofs} from "./escrow/AccuracyProofs.sol";

/// @title Escrowed training jobs with staged Proof of Training and a zk accuracy proof
/// @notice The deployed contract (`IJobEscrow`): jobs and their escrow (`JobLedger`), stage
/// attempts with hidden declarations and their openings (`StageAttempts`, `StageDeclarations`),
/// per-declaration settlement (`DeclarationSettlement`), the committed test set, the final
/// model's accuracy proofs and the bounty (`AccuracyProofs`), and pull payments. It creates the
/// `NodeRegistry` whose stakes back every open declaration.
contract JobEscrow is StageDeclarations, AccuracyProofs {
    constructor(uint256 minStake, uint256 slashAmount, uint256 exitCooldown)
        JobLedger(minStake, slashAmount, exitCooldown)
    {}
}
