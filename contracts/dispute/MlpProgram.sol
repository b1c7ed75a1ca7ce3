// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title The shape of one disputed stage: an MLP trained by SGD, as the game reads it
/// @notice A program is a stage of Linear layers with a ReLU between each two (dims d_0 .. d_L,
/// L Linear layers), cross-entropy over d_L classes, SGD with (muQ > 0) or without a momentum
/// buffer, over `samples` samples in batches of `batchSize` (docs/disputes.md). Everything the
/// game needs to know about a batch follows from it: the operations in the order the stage
/// computes them (docs/pot.md, "Trace"), each operation's length, where each parameter sits in
/// the state vector. Other layer types, Adam and Dropout are refused by the Python side
/// (`zkpot.pot.game.program`), so a program never names them.
library MlpProgram {
    struct Program {
        uint32[] dims;
        uint32 batchSize;
        uint32 samples;
        int256 lrQ; // round(lr * 2^24)
        int256 muQ; // round(momentum * 2^24); 0: no momentum buffer
    }

    enum Kind {
        FwdLinear,
        FwdRelu,
        LossMax,
        LossExp,
        LossSum,
        LossGrad,
        WeightGrad,
        Param,
        Momentum,
        BwdLinear,
        BwdRelu,
        State
    }

    uint256 internal constant MAX_WIDTH = 4096;
    uint256 internal constant MAX_LINEAR = 32;
    uint256 internal constant MAX_BATCH = 4096;
    uint256 internal constant MAX_SAMPLES = 2 ** 32 - 1;
    // zkpot.spec's bounds: a shape the spec refuses is one no honest node can compute, so a
    // claim about it could never be opposed
    uint256 internal constant MAX_CLASSES = 1000;
    uint256 internal constant MAX_PARAMS = 5_000_000;

    /// @notice The program is outside what the game judges (the reason names the field).
    error ProgramInvalid(string reason);

    function check(Program calldata p) internal pure {
        uint256 n = p.dims.length;
        if (n < 2 || n > MAX_LINEAR + 1) revert ProgramInvalid("dims: 1 to 32 Linear layers");
        for (uint256 i; i < n; ++i) {
            if (p.dims[i] == 0 || p.dims[i] > MAX_WIDTH) revert ProgramInvalid("dims: each in 1..4096");
        }
        if (p.dims[n - 1] < 2 || p.dims[n - 1] > MAX_CLASSES) revert ProgramInvalid("dims: 2..1000 classes");
        uint256 params;
        for (uint256 i; i + 1 < n; ++i) {
            params += uint256(p.dims[i + 1]) * (uint256(p.dims[i]) + 1);
        }
        if (params > MAX_PARAMS) revert ProgramInvalid("parameters: at most 5,000,000");
        if (p.batchSize < 2 || p.batchSize > MAX_BATCH) revert ProgramInvalid("batchSize: 2..4096");
        if (p.samples < 2) revert ProgramInvalid("samples: at least 2");
        (, uint256 last) = batch(p, batches(p.samples, p.batchSize) - 1);
        if (last > MAX_BATCH) revert ProgramInvalid("the last batch (a trailing sample joins it) exceeds 4096");
        if (p.lrQ < 1 || p.lrQ > 2 ** 24) revert ProgramInvalid("lrQ: 1..2^24");
        if (p.muQ < 0 || p.muQ > 16760439) revert ProgramInvalid("muQ: 0..round(0.999 * 2^24)");
    }

    function hash(Program calldata p) internal pure returns (bytes32) {
        return keccak256(abi.encode(p.dims, p.batchSize, p.samples, p.lrQ, p.muQ));
    }

    function layers(Program calldata p) internal pure returns (uint256) {
        return p.dims.length - 1;
    }

    function momentum(Program calldata p) internal pure returns (uint256) {
        return p.muQ > 0 ? 1 : 0;
    }

    // ---- batches: consecutive runs of batchSize; a trailing single sample joins the one before

    function batches(uint256 samples, uint256 size) internal pure returns (uint256 count) {
        count = (samples + size - 1) / size;
        if (count > 1 && samples % size == 1) --count;
    }

    /// @notice The first row and the number of samples of batch j.
    function batch(Program calldata p, uint256 j) internal pure returns (uint256 row0, uint256 size) {
        uint256 count = batches(p.samples, p.batchSize);
        row0 = j * p.batchSize;
        size = j + 1 == count ? p.samples - row0 : p.batchSize;
    }

    // ---- the state vector: Linear l's weight (d_{l+1} x d_l, C order) then bias, layer by layer;
    // then the momentum buffer in the same order; then the step count

    function weightAt(Program calldata p, uint256 l) internal pure returns (uint256 offset) {
        for (uint256 i; i < l; ++i) offset += uint256(p.dims[i + 1]) * (uint256(p.dims[i]) + 1);
    }

    function biasAt(Program calldata p, uint256 l) internal pure returns (uint256) {
        return weightAt(p, l) + uint256(p.dims[l]) * p.dims[l + 1];
    }

    function params(Program calldata p) internal pure returns (uint256) {
        return weightAt(p, layers(p));
    }

    function stateLength(Program calldata p) internal pure returns (uint256) {
        return params(p) * (1 + momentum(p)) + 1;
    }

    function layerParams(Program calldata p, uint256 l) internal pure returns (uint256) {
        return uint256(p.dims[l + 1]) * (uint256(p.dims[l]) + 1);
    }

    // ---- the operations of a batch, in the stage's order (docs/pot.md, "Trace"):
    // fwd: Linear 0, ReLU 0, Linear 1, ..., Linear L-1; loss: max, exp, sum, grad; then for
    // Linear l from L-1 down to 0: weight gradient, new parameters, [new momentum], and for
    // l > 0 the input gradient and the ReLU l-1's gradient; last the state after the batch.

    function lossAt(Program calldata p) internal pure returns (uint256) {
        return 2 * layers(p) - 1;
    }

    function backwardAt(Program calldata p, uint256 l) internal pure returns (uint256) {
        return lossAt(p) + 4 + (layers(p) - 1 - l) * (4 + momentum(p));
    }

    function stateAt(Program calldata p) internal pure returns (uint256) {
        return backwardAt(p, 0) + 2 + momentum(p);
    }

    function opCount(Program calldata p) internal pure returns (uint256) {
        return stateAt(p) + 1;
    }

    /// @notice The kind of operation t and its layer (Linear index; for a ReLU, the Linear before it).
    function decode(Program calldata p, uint256 t) internal pure returns (Kind kind, uint256 l) {
        uint256 f = lossAt(p);
        if (t < f) return (t % 2 == 0 ? Kind.FwdLinear : Kind.FwdRelu, t / 2);
        if (t < f + 4) return (Kind(uint256(Kind.LossMax) + t - f), 0);
        uint256 s = stateAt(p);
        if (t == s) return (Kind.State, 0);
        if (t > s) revert ProgramInvalid("no such operation");
        uint256 per = 4 + momentum(p);
        uint256 u = t - f - 4;
        l = layers(p) - 1 - u / per;
        uint256 r = u % per;
        if (r == 0) return (Kind.WeightGrad, l);
        if (r == 1) return (Kind.Param, l);
        if (momentum(p) == 1 && r == 2) return (Kind.Momentum, l);
        r -= momentum(p);
        return (r == 2 ? Kind.BwdLinear : Kind.BwdRelu, r == 2 ? l : l - 1);
    }

    function fwdLinear(uint256 l) internal pure returns (uint256) {
        return 2 * l;
    }

    function fwdRelu(uint256 q) internal pure returns (uint256) {
        return 2 * q + 1;
    }

    function weightGrad(Program calldata p, uint256 l) internal pure returns (uint256) {
        return backwardAt(p, l);
    }

    function param(Program calldata p, uint256 l) internal pure returns (uint256) {
        return backwardAt(p, l) + 1;
    }

    function momentumOp(Program calldata p, uint256 l) internal pure returns (uint256) {
        return backwardAt(p, l) + 2;
    }

    function bwdLinear(Program calldata p, uint256 l) internal pure returns (uint256) {
        return backwardAt(p, l) + 2 + momentum(p);
    }

    /// @notice The gradient of ReLU q (between Linear q and q + 1), made in Linear q+1's block.
    function bwdRelu(Program calldata p, uint256 q) internal pure returns (uint256) {
        return backwardAt(p, q + 1) + 3 + momentum(p);
    }

    /// @notice The gradient flowing into Linear l's output: the loss's, or its ReLU's.
    function upstream(Program calldata p, uint256 l) internal pure returns (uint256) {
        return l + 1 == layers(p) ? lossAt(p) + 3 : bwdRelu(p, l);
    }

    /// @notice The number of elements of operation t in a batch of `b` samples.
    function length(Program calldata p, uint256 b, uint256 t) internal pure returns (uint256) {
        (Kind kind, uint256 l) = decode(p, t);
        uint256 classes = p.dims[layers(p)];
        if (kind == Kind.FwdLinear || kind == Kind.FwdRelu) return b * p.dims[l + 1];
        if (kind == Kind.LossMax || kind == Kind.LossSum) return b;
        if (kind == Kind.LossExp || kind == Kind.LossGrad) return b * classes;
        if (kind == Kind.WeightGrad || kind == Kind.Param || kind == Kind.Momentum) return layerParams(p, l);
        if (kind == Kind.BwdLinear) return b * p.dims[l];
        if (kind == Kind.BwdRelu) return b * p.dims[l + 1];
        return stateLength(p);
    }

    /// @notice For an element made by a reduction, its number of terms and the value it starts
    /// from (terms 0: the element is made in one step).
    function reduction(Program calldata p, uint256 b, uint256 t, uint256 e)
        internal
        pure
        returns (uint256 terms, int256 start)
    {
        (Kind kind, uint256 l) = decode(p, t);
        if (kind == Kind.FwdLinear) return (p.dims[l], 0);
        if (kind == Kind.LossMax) return (p.dims[layers(p)], -(2 ** 26));
        if (kind == Kind.LossSum) return (p.dims[layers(p)], 0);
        if (kind == Kind.WeightGrad) return (b, 0);
        if (kind == Kind.BwdLinear) return (p.dims[l + 1], 0);
        e; // every element of these operations is a reduction of the same length
        return (0, 0);
    }
}
