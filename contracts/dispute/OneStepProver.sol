// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IOneStepProver} from "../interfaces/IOneStepProver.sol";
import {FixedPointStep as F} from "./FixedPointStep.sol";
import {FixedPointTables as T} from "./FixedPointTables.sol";
import {TensorMerkle} from "./TensorMerkle.sol";

/// @title The one-step check of zkpot's dispute game
/// @notice Stateless: every answer follows from its calldata, so a game (or anyone) can call it.
contract OneStepProver is IOneStepProver {
    using TensorMerkle for TensorMerkle.Tensor;

    function _v(Operand calldata o) private pure returns (int256) {
        return TensorMerkle.Tensor(o.tensor.root, o.tensor.n).open(o.opening);
    }

    /// @inheritdoc IOneStepProver
    function tableRoot() external pure returns (bytes32) {
        return T.ROOT;
    }

    /// @inheritdoc IOneStepProver
    function productStep(Operand calldata acc, Operand calldata a, Operand calldata b) external pure returns (int256) {
        return F.productStep(_v(acc), _v(a), _v(b));
    }

    /// @inheritdoc IOneStepProver
    function addStep(Operand calldata acc, Operand calldata term) external pure returns (int256) {
        return F.addStep(_v(acc), _v(term));
    }

    /// @inheritdoc IOneStepProver
    function maxStep(Operand calldata m, Operand calldata z) external pure returns (int256) {
        return F.maxStep(_v(m), _v(z));
    }

    /// @inheritdoc IOneStepProver
    function productOutput(Operand calldata acc, Operand calldata bias, bool relu) external pure returns (int256) {
        return F.productOutput(_v(acc), _v(bias), relu);
    }

    /// @inheritdoc IOneStepProver
    function weightGradient(Operand calldata acc) external pure returns (int256) {
        return F.weightGradient(_v(acc));
    }

    /// @inheritdoc IOneStepProver
    function inputGradientEntry(Operand calldata acc) external pure returns (int256) {
        return F.inputGradientEntry(_v(acc));
    }

    /// @inheritdoc IOneStepProver
    function saturateGradient(Operand calldata v) external pure returns (int256) {
        return F.saturateGradient(_v(v));
    }

    /// @inheritdoc IOneStepProver
    function reluGradient(Operand calldata g, Operand calldata y) external pure returns (int256) {
        return F.reluGradient(_v(g), _v(y));
    }

    /// @inheritdoc IOneStepProver
    function expEntry(Operand calldata m, Operand calldata z, TensorMerkle.Opening calldata hi,
        TensorMerkle.Opening calldata lo) external pure returns (int256) {
        int256 d = _v(m) - _v(z);
        (uint256 h, uint256 l) = F.expTableIndices(d);
        return F.expNeg(d, T.entry(hi, h), T.entry(lo, T.EXP_LO_AT + l));
    }

    /// @inheritdoc IOneStepProver
    function lossEntry(Operand calldata s, Operand calldata m, Operand calldata zLabel,
        TensorMerkle.Opening calldata lnLo, TensorMerkle.Opening calldata lnHi) external pure returns (int256) {
        int256 sum = _v(s);
        (uint256 idx,,) = F.lnTableIndex(sum);
        return F.lossValue(sum, _v(m), _v(zLabel), T.entry(lnLo, T.LN1P_AT + idx), T.entry(lnHi, T.LN1P_AT + idx + 1));
    }

    /// @inheritdoc IOneStepProver
    function softmaxGradient(Operand calldata e, Operand calldata s, bool label, int256 batch)
        external
        pure
        returns (int256)
    {
        return F.softmaxGradient(_v(e), _v(s), label, batch);
    }

    /// @inheritdoc IOneStepProver
    function sgd(Operand calldata w, Operand calldata g, Operand calldata buf, int256 lrQ, int256 muQ, bool hasBuffer)
        external
        pure
        returns (int256 weight, int256 buffer)
    {
        // without a momentum buffer there is nothing to open: its operand is ignored
        return F.sgd(_v(w), _v(g), hasBuffer ? _v(buf) : int256(0), lrQ, muQ, hasBuffer);
    }

    /// @inheritdoc IOneStepProver
    function adam(Operand calldata w, Operand calldata g, Operand calldata m, Operand calldata v,
        int256[4] calldata scalars) external pure returns (int256 weight, int256 m2, int256 v2) {
        return F.adam(_v(w), _v(g), _v(m), _v(v), scalars);
    }

    /// @inheritdoc IOneStepProver
    function poolChoice(Operand[] calldata window) external pure returns (uint256 position, int256 value) {
        int256[] memory values = new int256[](window.length);
        for (uint256 i; i < window.length; ++i) values[i] = _v(window[i]);
        return F.poolChoice(values);
    }
}
