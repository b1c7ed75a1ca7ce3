// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TensorMerkle} from "../dispute/TensorMerkle.sol";

/// @title One disputed element of a stage, re-executed on-chain
/// @notice Every function opens its operands against the Merkle roots of the traced tensors
/// that hold them (docs/pot.md, "Trace") and returns the element the stage function computes
/// from them, exactly as `zkpot/pot/` does (`FixedPointStep`). Which element of which tensor
/// each operand must be is fixed by the operation's index rule, which the caller (the dispute
/// game) checks: this contract only proves that the values are the committed ones and does the
/// arithmetic. Table entries (exp and ln) open against `tableRoot()`.
interface IOneStepProver {
    /// @notice One operand: the committed tensor and the opening of the element used.
    struct Operand {
        TensorMerkle.Tensor tensor;
        TensorMerkle.Opening opening;
    }

    /// @notice The root of the exp/ln tables, `fixedpoint.tables()` concatenated (exp_hi at
    /// 0..1023, exp_lo at 1024..2047, ln1p at 2048..3072).
    function tableRoot() external pure returns (bytes32);

    /// @notice acc_{k+1} = acc_k + a_k * b_k: one partial-sum step of an exact product.
    function productStep(Operand calldata acc, Operand calldata a, Operand calldata b) external pure returns (int256);

    /// @notice acc + term: one step of an exact sum.
    function addStep(Operand calldata acc, Operand calldata term) external pure returns (int256);

    /// @notice max(m, z): one step of the loss's running maximum.
    function maxStep(Operand calldata m, Operand calldata z) external pure returns (int256);

    /// @notice A Linear/Conv2d output element from its exact sum and bias (ReLU fused or not).
    function productOutput(Operand calldata acc, Operand calldata bias, bool relu) external pure returns (int256);

    /// @notice A weight gradient element from its exact sum, as the optimiser reads it.
    function weightGradient(Operand calldata acc) external pure returns (int256);

    /// @notice An input gradient column entry from its exact sum (before col2im; a Linear's
    /// input gradient is `saturateGradient` of it).
    function inputGradientEntry(Operand calldata acc) external pure returns (int256);

    /// @notice A gradient saturated to +-2^27.
    function saturateGradient(Operand calldata v) external pure returns (int256);

    /// @notice ReLU's backward at one element.
    function reluGradient(Operand calldata g, Operand calldata y) external pure returns (int256);

    /// @notice e_j = exp(-(max - z_j)) in Q30, the two table entries opened against `tableRoot`.
    function expEntry(Operand calldata m, Operand calldata z, TensorMerkle.Opening calldata hi,
        TensorMerkle.Opening calldata lo) external pure returns (int256);

    /// @notice One sample's loss (Q16) from its softmax sum, max logit and label logit.
    function lossEntry(Operand calldata s, Operand calldata m, Operand calldata zLabel,
        TensorMerkle.Opening calldata lnLo, TensorMerkle.Opening calldata lnHi) external pure returns (int256);

    /// @notice One entry of the loss gradient (Q24) for a batch of `batch` samples.
    function softmaxGradient(Operand calldata e, Operand calldata s, bool label, int256 batch)
        external
        pure
        returns (int256);

    /// @notice One SGD element: the new weight and momentum buffer (lr, momentum in Q24).
    function sgd(Operand calldata w, Operand calldata g, Operand calldata buf, int256 lrQ, int256 muQ, bool hasBuffer)
        external
        pure
        returns (int256 weight, int256 buffer);

    /// @notice One Adam element: the new weight, m and v; scalars = (beta1, beta2, alpha_t, eps_t).
    function adam(Operand calldata w, Operand calldata g, Operand calldata m, Operand calldata v,
        int256[4] calldata scalars) external pure returns (int256 weight, int256 m2, int256 v2);

    /// @notice MaxPool2d's choice in one window: its position (row-major) and value.
    function poolChoice(Operand[] calldata window) external pure returns (uint256 position, int256 value);
}
