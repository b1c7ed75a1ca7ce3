// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IAccuracyVerifier} from "../interfaces/IAccuracyVerifier.sol";

/// @notice The part of ezkl's reusable Halo2 verifier this adapter calls.
interface IHalo2VerifierReusable {
    function registerVka(bytes32[] memory vka) external returns (bytes32 vkaDigest);
}

/// @title Accuracy statements proven with ezkl, for one circuit
/// @notice Reads the statement out of a proof of one circuit and pins what the proof is checked
/// against: the verifying key (as its VKA hash), the SRS it was set up with, and the statement
/// itself (margin δ, shard size N, and the hash of the statement's description). The one
/// instance is the correct-count; three KZG commitments (64 bytes each) open the proof: the
/// shard's features and one-hot labels, then the weights. The test-set commitment is keccak256
/// of the first two, the model commitment keccak256 of the third.
/// @dev Two verifier kinds. A single-circuit verifier (ezkl's verifier with the verifying key
/// compiled in, generated and compiled at deployment) is called as `verifyProof(proof,
/// instances)`; `vka` is then empty and `vkaHash` names the circuit's VKA. ezkl's reusable
/// verifier takes the VKA with every call: it is stored here as the code of data contracts
/// (read with extcodecopy: no calldata, no storage reads), registered, and its hash computed
/// here. Clients compare the views with what they recompute (`zkpot.zk.evm.check_verifier`).
contract EzklAccuracyVerifier is IAccuracyVerifier {
    /// @notice The Halo2 verifier rejected the proof.
    error ProofRejected();
    /// @notice The instances do not have this circuit's layout.
    error InstancesMalformed(uint256 length);
    /// @notice The proof is too short to hold the test set's and the weights' commitments.
    error ProofTooShort(uint256 length);
    /// @notice A VKA data contract could not be created.
    error VkaStoreFailed();
    /// @notice The VKA given does not hash to the VKA hash given.
    error VkaHashMismatch(bytes32 given, bytes32 computed);

    uint256 private constant INSTANCES = 1;
    // two polycommit inputs, one G1 point (64 bytes) each, then the polycommit weights
    uint256 private constant TEST_SET_BYTES = 128;
    uint256 private constant COMMITMENT_BYTES = TEST_SET_BYTES + 64;
    // a data contract holds at most this many VKA words (under the 24 KB code limit)
    uint256 private constant WORDS_PER_STORE = 700;

    address private immutable _verifier;
    bytes32 private immutable _vkaDigest;
    uint256 private immutable _vkaWords;
    bytes32 private immutable _vkaHash;
    bytes32 private immutable _srsHash;
    bytes32 private immutable _statementHash;
    uint256 private immutable _marginSteps;
    uint256 private immutable _shardSize;
    address[] private _vkaStores;

    /// @param verifier the single-circuit verifier, or the shared reusable one when `vka` is given
    /// @param vka the circuit's VKA words for the reusable verifier; empty for a single-circuit one
    /// @param vkaHash_ keccak256 of the circuit's VKA words (checked against `vka` when given)
    /// @param srsHash_ sha256 of the SRS file the circuit's keys were set up with
    /// @param statementHash_ keccak256 of the statement's canonical description (zkpot.zk)
    /// @param marginSteps_ δ: a sample counts when its true logit beats every other by δ steps
    /// @param shardSize_ N: samples per proof
    constructor(
        address verifier,
        bytes32[] memory vka,
        bytes32 vkaHash_,
        bytes32 srsHash_,
        bytes32 statementHash_,
        uint256 marginSteps_,
        uint256 shardSize_
    ) {
        _verifier = verifier;
        _vkaHash = vkaHash_;
        _srsHash = srsHash_;
        _statementHash = statementHash_;
        _marginSteps = marginSteps_;
        _shardSize = shardSize_;
        _vkaWords = vka.length;
        if (vka.length == 0) {
            _vkaDigest = bytes32(0);
            return;
        }
        bytes32 computed = keccak256(abi.encodePacked(vka));
        if (computed != vkaHash_) revert VkaHashMismatch(vkaHash_, computed);
        for (uint256 start = 0; start < vka.length; start += WORDS_PER_STORE) {
            uint256 end = start + WORDS_PER_STORE < vka.length ? start + WORDS_PER_STORE : vka.length;
            _vkaStores.push(_store(vka, start, end));
        }
        _vkaDigest = IHalo2VerifierReusable(verifier).registerVka(vka);
    }

    /// @inheritdoc IAccuracyVerifier
    function verifyAccuracy(bytes calldata proof, uint256[] calldata instances)
        external
        returns (bytes32 testSetCommitment, uint256 modelCommitment, uint256 correctCount)
    {
        if (instances.length != INSTANCES) revert InstancesMalformed(instances.length);
        if (proof.length < COMMITMENT_BYTES) revert ProofTooShort(proof.length);
        bool ok;
        bytes memory ret;
        if (_vkaWords == 0) {
            (ok, ret) = _verifier.call(abi.encodeWithSignature("verifyProof(bytes,uint256[])", proof, instances));
        } else {
            // the reusable verifier's return data is not ABI-encoded: its first word is the verdict
            (ok, ret) = _verifier.call(
                abi.encodeWithSignature("verifyProof(bytes,uint256[],bytes32[])", proof, instances, _loadVka())
            );
        }
        if (!ok || ret.length < 32 || uint256(bytes32(ret)) != 1) revert ProofRejected();
        testSetCommitment = keccak256(proof[:TEST_SET_BYTES]);
        modelCommitment = uint256(keccak256(proof[TEST_SET_BYTES:COMMITMENT_BYTES]));
        correctCount = instances[0];
    }

    /// @notice The Halo2 verifier this adapter calls.
    function verifier() external view returns (address) {
        return _verifier;
    }

    /// @notice Whether the verifier is ezkl's reusable one (the VKA stored here) or single-circuit.
    function reusable() external view returns (bool) {
        return _vkaWords != 0;
    }

    /// @notice keccak256 of the verifier's runtime code, read now (a client compares it with
    /// the code it compiles from the circuit).
    function verifierCodeHash() external view returns (bytes32) {
        return _verifier.codehash;
    }

    /// @notice keccak256 of this circuit's VKA words.
    function vkaHash() external view returns (bytes32) {
        return _vkaHash;
    }

    /// @notice The digest the reusable verifier registered the VKA under (zero when single-circuit).
    function vkaDigest() external view returns (bytes32) {
        return _vkaDigest;
    }

    /// @notice sha256 of the SRS file the circuit's keys were set up with.
    function srsHash() external view returns (bytes32) {
        return _srsHash;
    }

    /// @notice keccak256 of the statement's canonical description (architecture, N, δ, scales).
    function statementHash() external view returns (bytes32) {
        return _statementHash;
    }

    /// @notice δ, in steps of the logits' scale.
    function marginSteps() external view returns (uint256) {
        return _marginSteps;
    }

    /// @notice N, the samples of one proof.
    function shardSize() external view returns (uint256) {
        return _shardSize;
    }

    function _store(bytes32[] memory vka, uint256 start, uint256 end) private returns (address store) {
        // code = 0x00 (STOP, so the data is never executed) ‖ words[start:end]
        uint256 size = (end - start) * 32 + 1;
        bytes memory init = abi.encodePacked(
            hex"61", uint16(size), hex"80600c6000396000f3", hex"00", _slice(vka, start, end)
        );
        assembly {
            store := create(0, add(init, 0x20), mload(init))
        }
        if (store == address(0)) revert VkaStoreFailed();
    }

    function _slice(bytes32[] memory words, uint256 start, uint256 end) private pure returns (bytes memory out) {
        out = new bytes((end - start) * 32);
        for (uint256 i = start; i < end; ++i) {
            bytes32 word = words[i];
            uint256 offset = (i - start) * 32;
            assembly {
                mstore(add(add(out, 0x20), offset), word)
            }
        }
    }

    function _loadVka() private view returns (bytes32[] memory vka) {
        vka = new bytes32[](_vkaWords);
        uint256 copied = 0;
        for (uint256 s = 0; s < _vkaStores.length; ++s) {
            address store = _vkaStores[s];
            uint256 words = _vkaWords - copied < WORDS_PER_STORE ? _vkaWords - copied : WORDS_PER_STORE;
            assembly {
                extcodecopy(store, add(add(vka, 0x20), mul(copied, 0x20)), 1, mul(words, 0x20))
            }
            copied += words;
        }
    }
}
