// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {MlpProgram} from "./MlpProgram.sol";
import {MlpStepRules} from "./MlpStepRules.sol";
import {TensorMerkle} from "./TensorMerkle.sol";

/// @title A claimed stage result, and the bisection game that overturns it if it is wrong
/// @notice A defender claims, with a bond, that an MLP stage (`MlpProgram`) trained from the
/// state committed by `startRoot` on the data `dataRoot`/`labelRoot` ends in the state
/// committed by `endRoot`. Within the challenge window anyone may challenge it with an equal
/// bond. The two then bisect, one transaction per side per round, each within
/// `responseWindow` (a side that does not move in time loses):
///
/// 1. over batches, to one batch j whose start state both agree on and whose end they do not;
/// 2. over that batch's operations: the defender posts every operation's root, the challenger
///    names the first it disputes;
/// 3. down that operation's Merkle tree, to one element and the defender's value of it;
/// 4. for an element made by a reduction, over its partial sums (16 terms a step);
/// 5. then anyone calls `resolve`, which recomputes the disputed value on-chain from operands
///    opened against the agreed roots (`MlpStepRules`): a value that differs from it is the
///    defender's lie, a value that equals it the challenger's.
///
/// Half the loser's bond goes to the winner, half to `beneficiary` (pull payments). A claim
/// that loses one game is overturned; a claim unchallenged, or that won every game, when its
/// window ends is final and its bond returns. docs/disputes.md has the rules, the bound on rounds and what is assumed.
contract StageDispute {
    using MlpProgram for MlpProgram.Program;

    enum ClaimState {
        None,
        Open,
        Overturned,
        Final
    }

    enum Phase {
        None,
        Batches,
        Operations,
        Descend,
        Element,
        Reduce,
        Resolve,
        Done
    }

    struct Claim {
        address defender;
        ClaimState state;
        uint32 openGames;
        uint64 challengeEnds;
        uint256 bond;
        bytes32 program;
        bytes32 dataRoot;
        bytes32 labelRoot;
        bytes32 startRoot;
        bytes32 endRoot;
    }

    struct Game {
        uint256 claim;
        address challenger;
        Phase phase;
        bool defenderToMove;
        uint64 deadline;
        uint16 defenderMoves;
        uint16 challengerMoves;
        // batches: state roots agreed after `lo` batches, disputed after `hi`; then batch `lo`
        uint64 lo;
        uint64 hi;
        bytes32 loRoot;
        bytes32 hiRoot;
        bytes32 mid; // a posted root, or a posted partial sum (as bytes32)
        // operations and the descent
        bytes32 opsHash;
        bytes32 opRoot;
        uint32 op;
        uint8 height;
        bool atTop;
        uint256 n;
        uint256 index;
        bytes32 node;
        bytes32 left;
        bytes32 right;
        // the element and its reduction: values agreed at point accLo, disputed at accHi
        uint256 element;
        int256 value;
        uint64 accLo;
        uint64 accHi;
        int256 accLoValue;
        int256 accHiValue;
        address winner;
    }

    MlpStepRules public immutable rules;
    /// @notice Receives half of every lost bond, so a party that loses to its own second
    /// identity (racing an honest challenger to the prize) still loses half its bond.
    address public immutable beneficiary;
    uint256 public immutable minBond;
    uint64 public immutable challengeWindow;
    uint64 public immutable responseWindow;

    uint256 public claimCount;
    uint256 public gameCount;
    mapping(uint256 => Claim) internal claims;
    mapping(uint256 => Game) internal games;
    mapping(address => uint256) public credit;

    /// @notice A claim was made: its end root, bond and the end of its challenge window.
    event Claimed(uint256 indexed claim, address indexed defender, bytes32 endRoot, uint256 bond, uint64 challengeEnds);
    /// @notice A game was opened against a claim; `endRoot` is the challenger's own.
    event Challenged(uint256 indexed game, uint256 indexed claim, address indexed challenger, bytes32 endRoot);
    /// @notice The defender's state root after `batches` batches.
    event StatePosted(uint256 indexed game, uint256 batches, bytes32 root);
    /// @notice The challenger agreed with the posted state root, or not.
    event StateAnswered(uint256 indexed game, bool agree);
    /// @notice The defender's roots of every operation of the disputed batch.
    event OperationsPosted(uint256 indexed game, uint256 batch, bytes32[] roots);
    /// @notice The challenger named the first operation it disputes (`n` elements).
    event OperationDisputed(uint256 indexed game, uint256 op, uint256 n);
    /// @notice The defender opened the current tree node into its children.
    event NodeRevealed(uint256 indexed game, bytes32 left, bytes32 right);
    /// @notice The challenger went down `side` (0 left, 1 right).
    event ChildPicked(uint256 indexed game, uint256 side);
    /// @notice The defender opened the current leaf's values.
    event LeafRevealed(uint256 indexed game, bytes chunk);
    /// @notice The disputed element, the defender's value of it, its reduction's points (0: none).
    event ElementPicked(uint256 indexed game, uint256 element, int256 value, uint256 steps);
    /// @notice The defender's partial sum at `point`.
    event PartialSumPosted(uint256 indexed game, uint256 point, int256 value);
    /// @notice The challenger agreed with the posted partial sum, or not.
    event PartialSumAnswered(uint256 indexed game, bool agree);
    /// @notice The one step: the recomputed value and the defender's.
    event Resolved(uint256 indexed game, int256 recomputed, int256 claimed);
    /// @notice A game ended (winner 0: abandoned, the claim overturned by another game).
    event GameEnded(uint256 indexed game, address indexed winner, string reason);
    /// @notice A claim was overturned or became final.
    event ClaimSettled(uint256 indexed claim, ClaimState state);

    /// @notice The value sent is not the bond required.
    error BondWrong(uint256 sent, uint256 needed);
    /// @notice The claim is not open (overturned, final, or past its window).
    error ClaimClosed(uint256 claim);
    /// @notice The sender is not the side whose move it is.
    error NotYourMove(uint256 game);
    /// @notice The move does not belong to the game's phase.
    error WrongPhase(uint256 game, Phase phase);
    /// @notice The program passed is not the claim's.
    error ProgramMismatch();
    /// @notice The roots passed are not the posted ones, of the wrong number, or nothing is disputed.
    error RootsMismatch();
    /// @notice The opened values do not hash to the node (or the root) they open, or a leaf is
    /// not 2,048 bytes.
    error RevealInvalid();
    /// @notice No such child, element or operation (or a pick into padding that is empty).
    error PickInvalid();
    /// @notice Too early: the deadline or window has not passed.
    error NotYet(uint64 at);
    /// @notice Too late: the deadline passed, only `timeout` now.
    error Late(uint64 deadline);
    /// @notice The sender has no credit to withdraw.
    error NothingOwed();
    /// @notice The withdrawal's transfer failed.
    error TransferFailed();

    constructor(MlpStepRules rules_, address beneficiary_, uint256 minBond_, uint64 challengeWindow_,
        uint64 responseWindow_) {
        rules = rules_;
        beneficiary = beneficiary_;
        minBond = minBond_;
        challengeWindow = challengeWindow_;
        responseWindow = responseWindow_;
    }

    // ---- views

    function claimOf(uint256 id) external view returns (Claim memory) {
        return claims[id];
    }

    function gameOf(uint256 gid) external view returns (Game memory) {
        return games[gid];
    }

    // ---- claims

    /// @notice Claim that the stage `p` ends in `endRoot`; the value sent is the bond.
    function claim(MlpProgram.Program calldata p, bytes32 dataRoot, bytes32 labelRoot, bytes32 startRoot,
        bytes32 endRoot) external payable returns (uint256 id) {
        p.check();
        if (msg.value < minBond) revert BondWrong(msg.value, minBond);
        id = ++claimCount;
        Claim storage c = claims[id];
        (c.defender, c.state, c.challengeEnds, c.bond) =
            (msg.sender, ClaimState.Open, uint64(block.timestamp) + challengeWindow, msg.value);
        (c.program, c.dataRoot, c.labelRoot, c.startRoot, c.endRoot) = (p.hash(), dataRoot, labelRoot, startRoot, endRoot);
        emit Claimed(id, msg.sender, endRoot, msg.value, c.challengeEnds);
    }

    /// @notice Challenge claim `id`, stating the end root the challenger computed; the value
    /// sent must equal the claim's bond.
    function challenge(uint256 id, MlpProgram.Program calldata p, bytes32 endRoot) external payable returns (uint256 gid) {
        Claim storage c = claims[id];
        if (c.state != ClaimState.Open || block.timestamp >= c.challengeEnds) revert ClaimClosed(id);
        if (msg.value != c.bond) revert BondWrong(msg.value, c.bond);
        _program(c, p);
        if (endRoot == c.endRoot) revert RootsMismatch(); // nothing to dispute
        gid = ++gameCount;
        Game storage g = games[gid];
        g.claim = id;
        g.challenger = msg.sender;
        g.hi = uint64(MlpProgram.batches(p.samples, p.batchSize));
        g.loRoot = c.startRoot;
        g.hiRoot = c.endRoot;
        g.phase = g.hi == 1 ? Phase.Operations : Phase.Batches;
        g.challengerMoves = 1;
        ++c.openGames;
        _turn(g, true);
        emit Challenged(gid, id, msg.sender, endRoot);
    }

    /// @notice After the window, a claim no game overturned is final: its bond returns.
    function settle(uint256 id) external {
        Claim storage c = claims[id];
        if (c.state != ClaimState.Open) revert ClaimClosed(id);
        if (block.timestamp < c.challengeEnds || c.openGames > 0) revert NotYet(c.challengeEnds);
        c.state = ClaimState.Final;
        credit[c.defender] += c.bond;
        emit ClaimSettled(id, ClaimState.Final);
    }

    function withdraw() external {
        uint256 amount = credit[msg.sender];
        if (amount == 0) revert NothingOwed();
        credit[msg.sender] = 0;
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    // ---- round 1: batches

    /// @notice The defender's state root after the midpoint of the disputed batches.
    function postState(uint256 gid, bytes32 root) external {
        Game storage g = _move(gid, Phase.Batches, true);
        g.mid = root;
        emit StatePosted(gid, (g.lo + g.hi) / 2, root);
    }

    /// @notice The challenger agrees with the posted root (the fault is later) or not (earlier).
    function answerState(uint256 gid, bool agree) external {
        Game storage g = _move(gid, Phase.Batches, false);
        uint64 m = (g.lo + g.hi) / 2;
        if (agree) (g.lo, g.loRoot) = (m, g.mid);
        else (g.hi, g.hiRoot) = (m, g.mid);
        if (g.hi - g.lo == 1) g.phase = Phase.Operations;
        emit StateAnswered(gid, agree);
    }

    // ---- round 2: the batch's operations

    /// @notice The defender's roots of every operation of batch `lo`; the last is the state
    /// after it, which must be the disputed root.
    function postOperations(uint256 gid, MlpProgram.Program calldata p, bytes32[] calldata roots) external {
        Game storage g = _move(gid, Phase.Operations, true);
        _program(claims[g.claim], p);
        if (roots.length != p.opCount() || roots[roots.length - 1] != g.hiRoot) revert RootsMismatch();
        g.opsHash = keccak256(abi.encode(roots));
        emit OperationsPosted(gid, g.lo, roots);
    }

    /// @notice The challenger names the first operation whose root it disputes (`roots`: the
    /// defender's posted list).
    function disputeOperation(uint256 gid, MlpProgram.Program calldata p, bytes32[] calldata roots, uint256 op)
        external
    {
        Game storage g = _move(gid, Phase.Operations, false);
        _program(claims[g.claim], p);
        if (keccak256(abi.encode(roots)) != g.opsHash) revert RootsMismatch();
        if (op >= roots.length) revert PickInvalid();
        g.opRoot = roots[op];
        (, uint256 b) = p.batch(g.lo);
        g.op = uint32(op);
        g.n = p.length(b, op);
        g.height = uint8(TensorMerkle.depth(g.n));
        g.atTop = true;
        g.phase = Phase.Descend;
        emit OperationDisputed(gid, op, g.n);
    }

    // ---- round 3: down the operation's tree

    /// @notice The defender opens the current node (the top, first) into its two children.
    function revealNode(uint256 gid, bytes32 left, bytes32 right) external {
        Game storage g = _move(gid, Phase.Descend, true);
        if (g.height == 0) revert WrongPhase(gid, g.phase);
        _checkNode(g, keccak256(abi.encodePacked(bytes1(0x01), left, right)));
        (g.left, g.right) = (left, right);
        emit NodeRevealed(gid, left, right);
    }

    /// @notice The challenger goes down the side it disputes. A side past the tensor's end must
    /// be empty (bytes32(0)): one that is not is the defender's fault.
    function pickChild(uint256 gid, uint256 side) external {
        Game storage g = _move(gid, Phase.Descend, false);
        if (side > 1) revert PickInvalid();
        bytes32 child = side == 0 ? g.left : g.right;
        uint256 index = g.index * 2 + side;
        if ((index << (g.height - 1)) * TensorMerkle.LEAF_SIZE >= g.n) {
            if (child == bytes32(0)) revert PickInvalid();
            return _end(g, gid, true, "padding not empty");
        }
        (g.node, g.index, g.atTop) = (child, index, false);
        --g.height;
        emit ChildPicked(gid, side);
    }

    /// @notice At a leaf, the defender opens its 256 values (2,048 bytes: a leaf of any other
    /// length is refused, so a node committed to one cannot be opened and its defender loses by
    /// timeout).
    function revealLeaf(uint256 gid, bytes calldata chunk) external {
        Game storage g = _move(gid, Phase.Descend, true);
        if (g.height != 0) revert WrongPhase(gid, g.phase);
        if (chunk.length != TensorMerkle.LEAF_BYTES) revert RevealInvalid();
        bytes32 h = TensorMerkle.leafHash(chunk);
        _checkNode(g, h);
        (g.node, g.atTop, g.phase) = (h, false, Phase.Element);
        emit LeafRevealed(gid, chunk);
    }

    /// @notice The challenger names the element it disputes (a position past the tensor's end
    /// must hold 0: one that does not is the defender's fault).
    function pickElement(uint256 gid, MlpProgram.Program calldata p, uint256 pos, bytes calldata chunk) external {
        Game storage g = _move(gid, Phase.Element, false);
        if (pos >= TensorMerkle.LEAF_SIZE || chunk.length != TensorMerkle.LEAF_BYTES
            || TensorMerkle.leafHash(chunk) != g.node) {
            revert PickInvalid();
        }
        uint256 e = g.index * TensorMerkle.LEAF_SIZE + pos;
        int256 value = TensorMerkle.valueAt(chunk, pos);
        if (e >= g.n) {
            if (value == 0) revert PickInvalid();
            return _end(g, gid, true, "padding not zero");
        }
        (g.element, g.value) = (e, value);
        uint256 count = _startReduction(g, p);
        emit ElementPicked(gid, e, g.value, count);
    }

    /// @notice An element made by a reduction is bisected over its partial sums next (from its
    /// start value to the defender's element); any other goes to `resolve`.
    function _startReduction(Game storage g, MlpProgram.Program calldata p) private returns (uint256 count) {
        _program(claims[g.claim], p);
        (, uint256 b) = p.batch(g.lo);
        int256 start;
        (count, start) = rules.steps(p, b, g.op, g.element);
        if (count == 0) {
            _toResolve(g);
        } else {
            (g.accLo, g.accHi, g.accLoValue, g.accHiValue) = (0, uint64(count), start, g.value);
            g.phase = Phase.Reduce;
        }
    }

    // ---- round 4: a reduction's partial sums

    /// @notice The defender's partial sum at the midpoint of the disputed steps.
    function postPartialSum(uint256 gid, int256 value) external {
        Game storage g = _move(gid, Phase.Reduce, true);
        g.mid = bytes32(uint256(value));
        emit PartialSumPosted(gid, (g.accLo + g.accHi) / 2, value);
    }

    function answerPartialSum(uint256 gid, bool agree) external {
        Game storage g = _move(gid, Phase.Reduce, false);
        uint64 m = (g.accLo + g.accHi) / 2;
        int256 v = int256(uint256(g.mid));
        if (agree) (g.accLo, g.accLoValue) = (m, v);
        else (g.accHi, g.accHiValue) = (m, v);
        if (g.accHi - g.accLo == 1) _toResolve(g);
        emit PartialSumAnswered(gid, agree);
    }

    // ---- the one step

    /// @notice Recompute the disputed value from operands opened against the agreed roots
    /// (`MlpStepRules.evaluate`); anyone may call it before the challenger's deadline (after
    /// it, only `timeout`, which the defender wins). Differs from the defender's: the
    /// challenger wins; equals it: the defender wins.
    function resolve(uint256 gid, MlpProgram.Program calldata p, bytes32[] calldata roots,
        TensorMerkle.Opening[] calldata operands) external {
        Game storage g = games[gid];
        if (g.phase != Phase.Resolve) revert WrongPhase(gid, g.phase);
        if (block.timestamp > g.deadline) revert Late(g.deadline); // the challenger missed it: timeout()
        if (keccak256(abi.encode(roots)) != g.opsHash) revert RootsMismatch();
        (int256 got, int256 claimed) = _recompute(g, p, roots, operands);
        if (msg.sender == g.challenger) ++g.challengerMoves;
        emit Resolved(gid, got, claimed);
        _end(g, gid, got != claimed, got != claimed ? "recomputed value differs" : "recomputed value agrees");
    }

    function _recompute(Game storage g, MlpProgram.Program calldata p, bytes32[] calldata roots,
        TensorMerkle.Opening[] calldata operands) private view returns (int256 got, int256 claimed) {
        MlpStepRules.Frame memory f = _frame(g, p, roots);
        claimed = g.accHi > 0 ? g.accHiValue : g.value; // a reduction's disputed point, or the element
        got = rules.evaluate(p, f, g.op, g.element, g.accLo, g.accLoValue, operands);
    }

    function _frame(Game storage g, MlpProgram.Program calldata p, bytes32[] calldata roots)
        private
        view
        returns (MlpStepRules.Frame memory)
    {
        Claim storage c = claims[g.claim];
        _program(c, p);
        (uint256 row0, uint256 b) = p.batch(g.lo);
        return MlpStepRules.Frame(roots, g.loRoot, c.dataRoot, c.labelRoot, row0, b);
    }

    /// @notice After a missed deadline, the side that had to move loses.
    function timeout(uint256 gid) external {
        Game storage g = games[gid];
        if (g.phase == Phase.None || g.phase == Phase.Done) revert WrongPhase(gid, g.phase);
        if (block.timestamp <= g.deadline) revert NotYet(g.deadline);
        _end(g, gid, g.defenderToMove, g.defenderToMove ? "defender timed out" : "challenger timed out");
    }

    /// @notice A game against a claim another game overturned ends; its challenger's bond returns.
    function abandon(uint256 gid) external {
        Game storage g = games[gid];
        if (g.phase == Phase.None || g.phase == Phase.Done) revert WrongPhase(gid, g.phase);
        if (claims[g.claim].state != ClaimState.Overturned) revert ClaimClosed(g.claim);
        g.phase = Phase.Done;
        --claims[g.claim].openGames;
        credit[g.challenger] += claims[g.claim].bond;
        emit GameEnded(gid, address(0), "claim overturned by another game");
    }

    // ---- internals

    function _program(Claim storage c, MlpProgram.Program calldata p) private view {
        if (p.hash() != c.program) revert ProgramMismatch();
    }

    function _move(uint256 gid, Phase phase, bool defender) private returns (Game storage g) {
        g = games[gid];
        if (g.phase != phase) revert WrongPhase(gid, g.phase);
        address mover = defender ? claims[g.claim].defender : g.challenger;
        if (msg.sender != mover || g.defenderToMove != defender) revert NotYourMove(gid);
        if (block.timestamp > g.deadline) revert Late(g.deadline); // too late: only timeout() now
        if (defender) ++g.defenderMoves;
        else ++g.challengerMoves;
        _turn(g, !defender);
    }

    /// @notice The disputed value is fixed: the challenger must now show it wrong (`resolve`).
    function _toResolve(Game storage g) private {
        g.phase = Phase.Resolve;
        _turn(g, false);
    }

    function _turn(Game storage g, bool defender) private {
        g.defenderToMove = defender;
        g.deadline = uint64(block.timestamp) + responseWindow;
    }

    function _checkNode(Game storage g, bytes32 h) private view {
        // the top: the root names the tensor's length; below it, the node picked last
        bytes32 expected = g.atTop ? g.opRoot : g.node;
        bytes32 got = g.atTop ? keccak256(abi.encodePacked(bytes1(0x02), g.n, h)) : h;
        if (got != expected) revert RevealInvalid();
    }

    function _end(Game storage g, uint256 gid, bool challengerWins, string memory reason) private {
        Claim storage c = claims[g.claim];
        g.phase = Phase.Done;
        --c.openGames;
        address winner;
        uint256 lost; // the loser's bond: half to the winner, half to the beneficiary
        if (challengerWins) {
            winner = g.challenger;
            credit[winner] += c.bond; // its own bond back
            if (c.state == ClaimState.Open) {
                c.state = ClaimState.Overturned;
                lost = c.bond; // the defender's
                emit ClaimSettled(g.claim, ClaimState.Overturned);
            }
        } else if (c.state == ClaimState.Overturned) {
            // the claim was shown wrong in another game: this one cannot pay its defender
            credit[g.challenger] += c.bond;
        } else {
            winner = c.defender;
            lost = c.bond; // the challenger's
        }
        if (lost > 0) {
            credit[winner] += lost / 2;
            credit[beneficiary] += lost - lost / 2;
        }
        g.winner = winner;
        emit GameEnded(gid, winner, reason);
    }
}
