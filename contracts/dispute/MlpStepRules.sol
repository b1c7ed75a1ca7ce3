// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {FixedPointStep as F} from "./FixedPointStep.sol";
import {FixedPointTables as T} from "./FixedPointTables.sol";
import {MlpProgram} from "./MlpProgram.sol";
import {TensorMerkle} from "./TensorMerkle.sol";

/// @title The index rules and the one step of an MLP stage's batch
/// @notice Stateless. Given the agreed roots of a batch (the state before it, the stage's data
/// and labels, the operations' roots), `evaluate` recomputes one disputed value: one element of
/// an operation, or, for an element made by a reduction, one step of 16 of its terms (or the
/// step that turns the finished sum into the element). Which elements of which tensors are read
/// is fixed here (docs/disputes.md, "Index rules"); every operand is opened against its root at
/// the index the rule names, so nothing but the committed values enters the arithmetic, and
/// `FixedPointStep` does the arithmetic exactly as `zkpot/pot/` does.
contract MlpStepRules {
    using MlpProgram for MlpProgram.Program;
    using TensorMerkle for TensorMerkle.Tensor;

    uint256 public constant TERMS = 16; // terms of a reduction judged in one step

    /// @notice What a batch's values are opened against.
    struct Frame {
        bytes32[] opRoots; // the batch's operations, in the program's order
        bytes32 stateRoot; // the state before the batch (agreed)
        bytes32 dataRoot; // the stage's inputs, Q16, samples x d_0, in processing order
        bytes32 labelRoot; // the stage's labels, in processing order
        uint256 row0; // the batch's first sample
        uint256 batch; // its number of samples
    }

    /// @notice The call names no step of this element, or the wrong number of operands.
    error StepInvalid(uint256 step, uint256 operands);

    /// @notice The number of operations of a batch.
    function opCount(MlpProgram.Program calldata p) external pure returns (uint256) {
        return p.opCount();
    }

    /// @notice The number of elements of operation t in a batch of b samples.
    function opLength(MlpProgram.Program calldata p, uint256 b, uint256 t) external pure returns (uint256) {
        return p.length(b, t);
    }

    /// @notice The number of steps of element e of operation t (0: not a reduction; else
    /// ceil(terms / 16) steps of terms, then one step that finishes it) and its start value.
    function steps(MlpProgram.Program calldata p, uint256 b, uint256 t, uint256 e)
        external
        pure
        returns (uint256 count, int256 start)
    {
        uint256 terms;
        (terms, start) = p.reduction(b, t, e);
        count = terms == 0 ? 0 : (terms + TERMS - 1) / TERMS + 1;
    }

    /// @notice Recompute element e of operation t (a reduction: the value after `step`, from
    /// `acc`, the agreed value before it) from the openings `o`, in the rule's order.
    function evaluate(
        MlpProgram.Program calldata p,
        Frame calldata f,
        uint256 t,
        uint256 e,
        uint256 step,
        int256 acc,
        TensorMerkle.Opening[] calldata o
    ) external pure returns (int256) {
        (MlpProgram.Kind kind, uint256 l) = p.decode(t);
        (uint256 terms,) = p.reduction(f.batch, t, e);
        if (terms == 0) return _element(p, f, kind, l, e, o);
        uint256 full = (terms + TERMS - 1) / TERMS;
        if (step > full) revert StepInvalid(step, o.length);
        if (step == full) return _finish(p, f, kind, l, e, acc, o);
        return _terms(p, f, kind, l, e, step, terms, acc, o);
    }

    /// @notice Where one term of a reduction is: Linear l, element e, term k, its first
    /// opening at o[at].
    struct Term {
        MlpProgram.Kind kind;
        uint256 l;
        uint256 e;
        uint256 k;
        uint256 at;
    }

    /// @notice Terms 16 * step .. of element e's reduction, added to acc.
    function _terms(
        MlpProgram.Program calldata p,
        Frame calldata f,
        MlpProgram.Kind kind,
        uint256 l,
        uint256 e,
        uint256 step,
        uint256 terms,
        int256 acc,
        TensorMerkle.Opening[] calldata o
    ) private pure returns (int256) {
        Term memory x = Term(kind, l, e, step * TERMS, 0);
        uint256 hi = x.k + TERMS < terms ? x.k + TERMS : terms;
        uint256 arity = _arity(p, kind, l, e);
        if (o.length != (hi - x.k) * arity) revert StepInvalid(step, o.length);
        for (; x.k < hi; ++x.k) {
            acc = _term(p, f, x, acc, o);
            x.at += arity;
        }
        return acc;
    }

    // ---- tensors

    function _op(MlpProgram.Program calldata p, Frame calldata f, uint256 u) private pure returns (TensorMerkle.Tensor memory) {
        return TensorMerkle.Tensor(f.opRoots[u], p.length(f.batch, u));
    }

    function _state(MlpProgram.Program calldata p, Frame calldata f) private pure returns (TensorMerkle.Tensor memory) {
        return TensorMerkle.Tensor(f.stateRoot, p.stateLength());
    }

    function _opValue(MlpProgram.Program calldata p, Frame calldata f, uint256 u, TensorMerkle.Opening calldata o,
        uint256 index) private pure returns (int256) {
        return _op(p, f, u).openAt(o, index);
    }

    function _stateValue(MlpProgram.Program calldata p, Frame calldata f, TensorMerkle.Opening calldata o,
        uint256 index) private pure returns (int256) {
        return _state(p, f).openAt(o, index);
    }

    /// @notice Input k of row r of Linear l: the stage's data for l = 0, else ReLU l-1's output.
    function _input(MlpProgram.Program calldata p, Frame calldata f, uint256 l, uint256 r, uint256 k,
        TensorMerkle.Opening calldata o) private pure returns (int256) {
        if (l == 0) {
            uint256 d0 = p.dims[0];
            return TensorMerkle.Tensor(f.dataRoot, uint256(p.samples) * d0).openAt(o, (f.row0 + r) * d0 + k);
        }
        return _op(p, f, MlpProgram.fwdRelu(l - 1)).openAt(o, r * p.dims[l] + k);
    }

    function _arity(MlpProgram.Program calldata p, MlpProgram.Kind kind, uint256 l, uint256 e)
        private
        pure
        returns (uint256)
    {
        if (kind == MlpProgram.Kind.LossMax || kind == MlpProgram.Kind.LossSum) return 1;
        if (kind == MlpProgram.Kind.WeightGrad && e >= uint256(p.dims[l]) * p.dims[l + 1]) return 1; // a bias
        return 2;
    }

    // ---- one term of a reduction

    function _term(MlpProgram.Program calldata p, Frame calldata f, Term memory x, int256 acc,
        TensorMerkle.Opening[] calldata o) private pure returns (int256) {
        if (x.kind == MlpProgram.Kind.FwdLinear) return F.productStep(acc, _fwdInput(p, f, x, o), _fwdWeight(p, f, x, o));
        if (x.kind == MlpProgram.Kind.LossMax) return F.maxStep(acc, _lossTerm(p, f, x, o));
        if (x.kind == MlpProgram.Kind.LossSum) return F.addStep(acc, _lossTerm(p, f, x, o));
        if (x.kind == MlpProgram.Kind.WeightGrad) return _weightGradTerm(p, f, x, acc, o);
        return _bwdTerm(p, f, x, acc, o);
    }

    /// @notice Row e's logit k (the max's term) or its exp k (the sum's term).
    function _lossTerm(MlpProgram.Program calldata p, Frame calldata f, Term memory x,
        TensorMerkle.Opening[] calldata o) private pure returns (int256) {
        uint256 op = x.kind == MlpProgram.Kind.LossMax ? MlpProgram.fwdLinear(p.layers() - 1) : p.lossAt() + 1;
        return _op(p, f, op).openAt(o[x.at], x.e * p.dims[p.layers()] + x.k);
    }

    /// @notice Linear l's input gradient, e = r * in + i: the sum over outputs k of g[r, k] *
    /// W[k, i] (W before the step).
    function _bwdTerm(MlpProgram.Program calldata p, Frame calldata f, Term memory x, int256 acc,
        TensorMerkle.Opening[] calldata o) private pure returns (int256) {
        int256 gr = _opValue(p, f, p.upstream(x.l), o[x.at], (x.e / p.dims[x.l]) * p.dims[x.l + 1] + x.k);
        return F.productStep(acc, gr, _bwdWeight(p, f, x, o));
    }

    function _bwdWeight(MlpProgram.Program calldata p, Frame calldata f, Term memory x,
        TensorMerkle.Opening[] calldata o) private pure returns (int256) {
        uint256 inF = p.dims[x.l];
        return _stateValue(p, f, o[x.at + 1], p.weightAt(x.l) + x.k * inF + x.e % inF);
    }

    /// @notice Linear l's forward, e = r * out + c: x[r, k] (o[at]) ...
    function _fwdInput(MlpProgram.Program calldata p, Frame calldata f, Term memory x,
        TensorMerkle.Opening[] calldata o) private pure returns (int256) {
        return _input(p, f, x.l, x.e / p.dims[x.l + 1], x.k, o[x.at]);
    }

    /// @notice ... times W[c, k] (o[at + 1]).
    function _fwdWeight(MlpProgram.Program calldata p, Frame calldata f, Term memory x,
        TensorMerkle.Opening[] calldata o) private pure returns (int256) {
        uint256 at = p.weightAt(x.l) + (x.e % p.dims[x.l + 1]) * p.dims[x.l] + x.k;
        return _state(p, f).openAt(o[x.at + 1], at);
    }

    /// @notice Linear l's weight gradient, e = c * in + i: the sum over rows k of g[k, c] * x[k, i];
    /// a bias c (e >= out * in): the sum of g[k, c].
    function _weightGradTerm(MlpProgram.Program calldata p, Frame calldata f, Term memory x, int256 acc,
        TensorMerkle.Opening[] calldata o) private pure returns (int256) {
        if (x.e >= uint256(p.dims[x.l]) * p.dims[x.l + 1]) return F.addStep(acc, _upstreamAt(p, f, x, o));
        return F.productStep(acc, _upstreamAt(p, f, x, o), _input(p, f, x.l, x.k, x.e % p.dims[x.l], o[x.at + 1]));
    }

    /// @notice g[k, c] (o[at]) of the weight gradient's term k, c the element's output.
    function _upstreamAt(MlpProgram.Program calldata p, Frame calldata f, Term memory x,
        TensorMerkle.Opening[] calldata o) private pure returns (int256) {
        (uint256 inF, uint256 outF) = (p.dims[x.l], p.dims[x.l + 1]);
        uint256 c = x.e >= inF * outF ? x.e - inF * outF : x.e / inF;
        return _opValue(p, f, p.upstream(x.l), o[x.at], x.k * outF + c);
    }

    /// @notice The element from its finished sum.
    function _finish(
        MlpProgram.Program calldata p,
        Frame calldata f,
        MlpProgram.Kind kind,
        uint256 l,
        uint256 e,
        int256 acc,
        TensorMerkle.Opening[] calldata o
    ) private pure returns (int256) {
        uint256 need = kind == MlpProgram.Kind.FwdLinear ? 1 : 0;
        if (o.length != need) revert StepInvalid(type(uint256).max, o.length);
        if (kind == MlpProgram.Kind.FwdLinear) {
            int256 bias = _state(p, f).openAt(o[0], p.biasAt(l) + e % p.dims[l + 1]);
            return F.productOutput(acc, bias, l + 1 < p.layers()); // a ReLU follows every Linear but the last
        }
        if (kind == MlpProgram.Kind.WeightGrad) {
            return e < uint256(p.dims[l]) * p.dims[l + 1] ? F.weightGradient(acc) : F.saturateGradient(acc);
        }
        if (kind == MlpProgram.Kind.BwdLinear) return F.saturateGradient(F.inputGradientEntry(acc));
        return acc; // the loss's max and sum are their reductions
    }

    // ---- elements made in one step

    function _element(
        MlpProgram.Program calldata p,
        Frame calldata f,
        MlpProgram.Kind kind,
        uint256 l,
        uint256 e,
        TensorMerkle.Opening[] calldata o
    ) private pure returns (int256) {
        if (kind == MlpProgram.Kind.FwdRelu) {
            _count(o, 1); // the ReLU is fused into the Linear before it: its output is that output
            return _op(p, f, MlpProgram.fwdLinear(l)).openAt(o[0], e);
        }
        if (kind == MlpProgram.Kind.LossExp) return _exp(p, f, e, o);
        if (kind == MlpProgram.Kind.LossGrad) return _softmax(p, f, e, o);
        if (kind == MlpProgram.Kind.Param || kind == MlpProgram.Kind.Momentum) {
            (int256 w2, int256 b2) = _sgd(p, f, l, e, o);
            return kind == MlpProgram.Kind.Param ? w2 : b2;
        }
        if (kind == MlpProgram.Kind.BwdRelu) return _relu(p, f, l, e, o);
        return _stateAfter(p, f, e, o);
    }

    function _softmax(MlpProgram.Program calldata p, Frame calldata f, uint256 e, TensorMerkle.Opening[] calldata o)
        private
        pure
        returns (int256)
    {
        _count(o, 3);
        uint256 classes = p.dims[p.layers()];
        int256 ex = _op(p, f, p.lossAt() + 1).openAt(o[0], e);
        int256 s = _op(p, f, p.lossAt() + 2).openAt(o[1], e / classes);
        int256 label = TensorMerkle.Tensor(f.labelRoot, p.samples).openAt(o[2], f.row0 + e / classes);
        return F.softmaxGradient(ex, s, label == int256(e % classes), int256(f.batch));
    }

    function _relu(MlpProgram.Program calldata p, Frame calldata f, uint256 q, uint256 e,
        TensorMerkle.Opening[] calldata o) private pure returns (int256) {
        _count(o, 2);
        int256 g = _op(p, f, p.bwdLinear(q + 1)).openAt(o[0], e);
        return F.reluGradient(g, _op(p, f, MlpProgram.fwdRelu(q)).openAt(o[1], e));
    }

    function _count(TensorMerkle.Opening[] calldata o, uint256 n) private pure {
        if (o.length != n) revert StepInvalid(0, o.length);
    }

    function _exp(MlpProgram.Program calldata p, Frame calldata f, uint256 e, TensorMerkle.Opening[] calldata o)
        private
        pure
        returns (int256)
    {
        _count(o, 4);
        int256 d = _gap(p, f, e, o[0], o[1]);
        (uint256 hi, uint256 lo) = F.expTableIndices(d);
        return F.expNeg(d, T.entry(o[2], hi), T.entry(o[3], T.EXP_LO_AT + lo));
    }

    /// @notice max - z for logit e: the exp's argument.
    function _gap(MlpProgram.Program calldata p, Frame calldata f, uint256 e, TensorMerkle.Opening calldata om,
        TensorMerkle.Opening calldata oz) private pure returns (int256) {
        int256 m = _op(p, f, p.lossAt()).openAt(om, e / p.dims[p.layers()]);
        return m - _op(p, f, MlpProgram.fwdLinear(p.layers() - 1)).openAt(oz, e);
    }

    /// @notice The SGD step of parameter e of Linear l: (new parameter, new momentum entry).
    function _sgd(MlpProgram.Program calldata p, Frame calldata f, uint256 l, uint256 e,
        TensorMerkle.Opening[] calldata o) private pure returns (int256, int256) {
        _count(o, 2 + p.momentum());
        (int256 w, int256 g, int256 buf) = _sgdOperands(p, f, l, e, o);
        return _sgdApply(p, w, g, buf);
    }

    function _sgdApply(MlpProgram.Program calldata p, int256 w, int256 g, int256 buf)
        private
        pure
        returns (int256, int256)
    {
        return F.sgd(w, g, buf, p.lrQ, p.muQ, p.muQ > 0);
    }

    /// @notice The parameter (o[0]) and its momentum entry (o[2]; 0 without momentum) before
    /// the step, and its gradient (o[1]).
    function _sgdOperands(MlpProgram.Program calldata p, Frame calldata f, uint256 l, uint256 e,
        TensorMerkle.Opening[] calldata o) private pure returns (int256 w, int256 g, int256 buf) {
        w = _stateValue(p, f, o[0], p.weightAt(l) + e);
        g = _opValue(p, f, p.weightGrad(l), o[1], e);
        if (p.momentum() == 1) buf = _stateValue(p, f, o[2], p.params() + p.weightAt(l) + e);
    }

    /// @notice Element e of the state after the batch: a new parameter or momentum entry (from
    /// its layer's step), or the step count plus one.
    function _stateAfter(MlpProgram.Program calldata p, Frame calldata f, uint256 e, TensorMerkle.Opening[] calldata o)
        private
        pure
        returns (int256)
    {
        _count(o, 1);
        uint256 n = p.params();
        if (e + 1 == p.stateLength()) return _state(p, f).openAt(o[0], e) + 1;
        bool buffer = e >= n;
        uint256 local = buffer ? e - n : e;
        uint256 l;
        while (p.weightAt(l + 1) <= local) ++l;
        uint256 op = buffer ? p.momentumOp(l) : p.param(l);
        return _op(p, f, op).openAt(o[0], local - p.weightAt(l));
    }
}
