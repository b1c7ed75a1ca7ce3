// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TensorMerkle} from "./TensorMerkle.sol";

/// @title The exp/ln tables of zkpot's fixed-point loss, as one committed tensor
/// @notice `fixedpoint.tables()` concatenated: exp_hi at 0..1023, exp_lo at 1024..2047, ln1p at
/// 2048..3072, committed as `merkle.root` (tests recompute the root from the Python tables).
library FixedPointTables {
    using TensorMerkle for TensorMerkle.Tensor;

    bytes32 internal constant ROOT = 0x54448256c8f1ff4ce946b9ab179f2977f45a3bf2a40795662234d437a94c26a9;
    uint256 internal constant SIZE = 3073;
    uint256 internal constant EXP_LO_AT = 1024;
    uint256 internal constant LN1P_AT = 2048;

    /// @notice The table entry at `index`, opened by `o` (reverts `OpeningInvalid` otherwise).
    function entry(TensorMerkle.Opening calldata o, uint256 index) internal pure returns (int256) {
        return TensorMerkle.Tensor(ROOT, SIZE).openAt(o, index);
    }
}
