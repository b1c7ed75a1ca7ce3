// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title One element of zkpot's fixed-point stage function, exactly
/// @notice Each function computes one element of one operation exactly as `zkpot/pot/`
/// (`fixedpoint.py`, `layers.py`, `optim.py`) does, in int256, and refuses (`OperandOutOfRange`)
/// any operand outside the bounds docs/pot.md proves for a valid stage, so an element outside
/// them can never be judged by arithmetic the Python code does not do. A rescale by 2^s rounds
/// half up: (v + 2^(s-1)) >> s, where `>>` on int256 rounds towards minus infinity, as numpy's.
library FixedPointStep {
    int256 internal constant ACT_MAX = 2 ** 26; // activations, Q16
    int256 internal constant W_MAX = 2 ** 24; // weights, Q20
    int256 internal constant G_MAX = 2 ** 27; // gradients, Q24
    int256 internal constant OPERAND_MAX = 2 ** 30; // |product operand| < 2^30 (mm_exact)
    int256 internal constant PARTIAL_MAX = 2 ** 92; // 2^32 terms below 2^60: every exact partial sum
    int256 internal constant SATURATE = 2 ** 60; // a product's exact result counts at most +-2^60
    int256 internal constant ONE = 2 ** 24; // 1.0 of lr, momentum and the betas (Q24)
    int256 internal constant MOMENTUM_MAX = 2 ** 38;
    int256 internal constant ADAM_V_MAX = 2 ** 38;
    int256 internal constant RATIO_MAX = 2 ** 22;
    int256 internal constant LN2_Q30 = 744261118; // round(ln 2 * 2^30), as fixedpoint.tables()

    /// @notice Operand number `position` (0-based, in the function's argument order) is outside
    /// the range the stage function allows there.
    error OperandOutOfRange(uint256 position, int256 value);

    function _within(uint256 position, int256 v, int256 lo, int256 hi) private pure {
        if (v < lo || v > hi) revert OperandOutOfRange(position, v);
    }

    function rescale(int256 v, uint256 s) internal pure returns (int256) {
        return (v + (int256(1) << (s - 1))) >> s;
    }

    function clamp(int256 v, int256 lo, int256 hi) internal pure returns (int256) {
        return v < lo ? lo : (v > hi ? hi : v);
    }

    function floorDiv(int256 a, int256 b) internal pure returns (int256 q) {
        q = a / b; // b > 0 here; Solidity truncates towards zero
        if (a % b != 0 && a < 0) q -= 1;
    }

    /// @notice One partial-sum step of an exact product: acc + a * b (|a|, |b| < 2^30, |acc| < 2^92).
    function productStep(int256 acc, int256 a, int256 b) internal pure returns (int256) {
        _within(0, acc, 1 - PARTIAL_MAX, PARTIAL_MAX - 1);
        _within(1, a, 1 - OPERAND_MAX, OPERAND_MAX - 1);
        _within(2, b, 1 - OPERAND_MAX, OPERAND_MAX - 1);
        return acc + a * b;
    }

    /// @notice One addition of a sum (bias gradients, col2im, softmax's denominator): acc + term.
    function addStep(int256 acc, int256 term) internal pure returns (int256) {
        _within(0, acc, 1 - PARTIAL_MAX, PARTIAL_MAX - 1);
        _within(1, term, 1 - PARTIAL_MAX, PARTIAL_MAX - 1);
        return acc + term;
    }

    /// @notice One step of a running maximum (the loss's max logit): max(m, z).
    function maxStep(int256 m, int256 z) internal pure returns (int256) {
        _within(0, m, -ACT_MAX, ACT_MAX);
        _within(1, z, -ACT_MAX, ACT_MAX);
        return z > m ? z : m;
    }

    /// @notice A Linear/Conv2d output from its exact sum: clamp(rshift(sat(acc) + bias*2^16, 20)),
    /// to [0, 2^26] when a ReLU is fused after it, else to [-2^26, 2^26].
    function productOutput(int256 acc, int256 bias, bool relu) internal pure returns (int256) {
        _within(0, acc, 1 - PARTIAL_MAX, PARTIAL_MAX - 1);
        _within(1, bias, -W_MAX, W_MAX);
        int256 y = rescale(clamp(acc, -SATURATE, SATURATE) + bias * 2 ** 16, 20);
        return clamp(y, relu ? int256(0) : -ACT_MAX, ACT_MAX);
    }

    /// @notice A product's input gradient entry before col2im: rshift(sat(acc), 20).
    function inputGradientEntry(int256 acc) internal pure returns (int256) {
        _within(0, acc, 1 - PARTIAL_MAX, PARTIAL_MAX - 1);
        return rescale(clamp(acc, -SATURATE, SATURATE), 20);
    }

    /// @notice A weight gradient as the optimiser reads it: clamp(rshift(sat(acc), 16), +-2^27).
    function weightGradient(int256 acc) internal pure returns (int256) {
        _within(0, acc, 1 - PARTIAL_MAX, PARTIAL_MAX - 1);
        return clamp(rescale(clamp(acc, -SATURATE, SATURATE), 16), -G_MAX, G_MAX);
    }

    /// @notice A gradient saturated to +-2^27 (input gradients after col2im, bias gradients).
    function saturateGradient(int256 v) internal pure returns (int256) {
        _within(0, v, 1 - PARTIAL_MAX, PARTIAL_MAX - 1);
        return clamp(v, -G_MAX, G_MAX);
    }

    /// @notice ReLU's backward: the gradient where the forward output is positive, else 0.
    function reluGradient(int256 g, int256 y) internal pure returns (int256) {
        _within(0, g, -G_MAX, G_MAX);
        _within(1, y, 0, ACT_MAX);
        return y > 0 ? g : int256(0);
    }

    /// @notice exp(-d / 2^16) in Q30 from the two table entries exp_hi[d' >> 10], exp_lo[d' & 1023]
    /// (d' = min(d, 2^20 - 1)); `expTableIndices` names them.
    function expNeg(int256 d, int256 hi, int256 lo) internal pure returns (int256) {
        _within(0, d, 0, 2 * ACT_MAX);
        _within(1, hi, 0, 2 ** 30);
        _within(2, lo, 0, 2 ** 30);
        return rescale(hi * lo, 30);
    }

    function expTableIndices(int256 d) internal pure returns (uint256 hi, uint256 lo) {
        uint256 u = uint256(clamp(d, 0, 2 ** 20 - 1));
        return (u >> 10, u & 1023);
    }

    /// @notice The ln1p table index of ln(s / 2^30) and its exponent (2^30 <= s < 2^41).
    function lnTableIndex(int256 s) internal pure returns (uint256 idx, int256 e, int256 r) {
        _within(0, s, 2 ** 30, 2 ** 41 - 1);
        while (s >> uint256(31 + e) > 0) ++e; // e = floor(log2 s) - 30
        int256 f = (s >> uint256(e)) - 2 ** 30;
        return (uint256(f >> 20), e, f & (2 ** 20 - 1));
    }

    /// @notice One sample's loss (Q16): rshift(ln(s / 2^30) in Q30, 14) + (max - z_label), with
    /// ln1p[idx] and ln1p[idx + 1] for `lnTableIndex(s)`.
    function lossValue(int256 s, int256 m, int256 zLabel, int256 lnLo, int256 lnHi) internal pure returns (int256) {
        (, int256 e, int256 r) = lnTableIndex(s);
        _within(1, m, -ACT_MAX, ACT_MAX);
        _within(2, zLabel, -ACT_MAX, m);
        _within(3, lnLo, 0, 2 ** 30);
        _within(4, lnHi, lnLo, 2 ** 30);
        int256 ln = lnLo + rescale((lnHi - lnLo) * r, 20) + e * LN2_Q30;
        return rescale(ln, 14) + (m - zLabel);
    }

    /// @notice d(mean loss)/dz_j in Q24: round((floor(e_j 2^24 / s) - [j is the label]) / batch).
    function softmaxGradient(int256 e, int256 s, bool label, int256 batch) internal pure returns (int256) {
        _within(0, e, 0, 2 ** 30);
        _within(1, s, 2 ** 30, 2 ** 41 - 1);
        _within(3, batch, 2, 4096);
        int256 p = (e * ONE) / s; // both non-negative: truncation is the floor
        if (label) p -= ONE;
        return floorDiv(2 * p + batch, 2 * batch);
    }

    /// @notice One SGD element (dampening 0): buf' = rshift(mu*buf, 24) + g and
    /// w' = clamp(w - rshift(lr*buf', 28), +-2^24); without a momentum buffer w' = clamp(w -
    /// rshift(lr*g, 28)) (and buf' = g). lr and mu in Q24.
    function sgd(int256 w, int256 g, int256 buf, int256 lrQ, int256 muQ, bool hasBuffer)
        internal
        pure
        returns (int256 w2, int256 buf2)
    {
        _within(0, w, -W_MAX, W_MAX);
        _within(1, g, -G_MAX, G_MAX);
        _within(2, buf, -MOMENTUM_MAX, MOMENTUM_MAX);
        _within(3, lrQ, 1, ONE);
        _within(4, muQ, 0, 16760439); // round(0.999 * 2^24): the spec's bound on momentum
        buf2 = hasBuffer ? rescale(muQ * buf, 24) + g : g;
        w2 = clamp(w - rescale(lrQ * buf2, 28), -W_MAX, W_MAX);
    }

    /// @notice One Adam element: m' = rshift(b1 m + (1-b1) g, 24), v' = rshift(b2 v + (1-b2)
    /// rshift(g^2, 16), 24), ratio = clamp(floor(m' 2^16 / (isqrt(v' 2^16) + eps_t)), +-2^22),
    /// w' = clamp(w - rshift(alpha_t ratio, 20), +-2^24). b1, b2 in Q24; alpha_t, eps_t the
    /// step's scalars (Q24) from `optim.adam_scalars`.
    function adam(int256 w, int256 g, int256 m, int256 v, int256[4] memory scalars)
        internal
        pure
        returns (int256 w2, int256 m2, int256 v2)
    {
        _within(0, w, -W_MAX, W_MAX);
        _within(1, g, -G_MAX, G_MAX);
        _within(2, m, -G_MAX, G_MAX);
        _within(3, v, 0, ADAM_V_MAX);
        (int256 b1, int256 b2, int256 alpha, int256 eps) = (scalars[0], scalars[1], scalars[2], scalars[3]);
        _within(4, b1, 0, 16760439); // beta1 <= 0.999
        _within(5, b2, 0, 16777048); // beta2 <= 0.99999
        _within(6, alpha, 0, 2 ** 34);
        _within(7, eps, 1, ONE);
        m2 = rescale(b1 * m + (ONE - b1) * g, 24);
        v2 = rescale(b2 * v + (ONE - b2) * rescale(g * g, 16), 24);
        int256 root = int256(sqrt(uint256(v2) << 16));
        int256 ratio = clamp(floorDiv(m2 * 2 ** 16, root + eps), -RATIO_MAX, RATIO_MAX);
        w2 = clamp(w - rescale(alpha * ratio, 20), -W_MAX, W_MAX);
    }

    /// @notice floor(sqrt(n)).
    function sqrt(uint256 n) internal pure returns (uint256 x) {
        if (n == 0) return 0;
        uint256 bits;
        while ((n >> bits) > 0) ++bits;
        x = uint256(1) << ((bits + 1) / 2); // >= sqrt(n): Newton's steps decrease to the floor
        while (true) {
            uint256 y = (x + n / x) / 2;
            if (y >= x) return x;
            x = y;
        }
    }

    /// @notice MaxPool2d's choice in one window (row-major, k*k <= 121 values): the first maximum,
    /// by the keys v * 128 + (k*k - 1 - position), as `layers.maxpool_forward`.
    function poolChoice(int256[] memory window) internal pure returns (uint256 position, int256 value) {
        uint256 n = window.length;
        if (n == 0 || n > 121) revert OperandOutOfRange(0, int256(n));
        int256 best;
        for (uint256 i; i < n; ++i) {
            _within(i, window[i], -ACT_MAX, ACT_MAX);
            int256 key = window[i] * 128 + int256(n - 1 - i);
            if (i == 0 || key > best) (best, position) = (key, i);
        }
        value = window[position];
    }
}
