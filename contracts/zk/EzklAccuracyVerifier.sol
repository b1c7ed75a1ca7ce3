// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IAccuracyVerifier} from "../interfaces/IAccuracyVerifier.sol";

/// @notice The part of ezkl's reusable Halo2 verifier this adapter calls.
interface IHalo2VerifierReusable {
    function registerVka(bytes32[] memory vka) external returns (bytes32 vkaDigest);
}

/// @title Accuracy statements proven with ezkl, for one circuit
/// @notice Binds ezkl's shared Halo2 verifier to one circuit's verifying-key artifact (VKA) and
/// reads the statement out of a proof: the one instance is the correct-count, and three KZG
/// commitments (G1 points, 64 bytes each) open the proof: the test-set shard's features and
/// one-hot labels, then the weights. The test-set commitment is keccak256 of the first two,
/// the model commitment keccak256 of the third.
/// @dev The VKA (4.3 KB for the demo circuit) lives in data contracts (code, read with
/// extcodecopy) so a check costs no VKA calldata and no storage reads; the shared verifier is
/// deployed once for all circuits.
contract EzklAccuracyVerifier is IAccuracyVerifier {
    /// @notice The Halo2 verifier rejected the proof.
    error ProofRejected();
    /// @notice The instances do not have this circuit's layout.
    error InstancesMalformed(uint256 length);
    /// @notice The proof is too short to hold the test set's and the weights' commitments.
    error ProofTooShort(uint256 length);
    /// @notice A VKA data contract could not be created.
    error VkaStoreFailed();

    uint256 private constant INSTANCES = 1;
    // two polycommit inputs, one G1 point (64 bytes) each, then the polycommit weights
    uint256 private constant TEST_SET_BYTES = 128;
    uint256 private constant COMMITMENT_BYTES = TEST_SET_BYTES + 64;
    // a data contract holds at most this many VKA words (under the 24 KB code limit)
    uint256 private constant WORDS_PER_STORE = 700;

    address private immutable _verifier;
    bytes32 private immutable _vkaDigest;
    uint256 private immutable _vkaWords;
    address[] private _vkaStores;

    constructor(address verifier, bytes32[] memory vka) {
        _verifier = verifier;
        _vkaWords = vka.length;
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
        bytes32[] memory vka = _loadVka();
        // the shared verifier reverts on an invalid proof and returns (true, digest, …) otherwise;
        // its return data is not ABI-encoded, so read the first word directly
        (bool ok, bytes memory ret) = _verifier.call(
            abi.encodeWithSignature("verifyProof(bytes,uint256[],bytes32[])", proof, instances, vka)
        );
        if (!ok || ret.length < 64 || uint256(bytes32(ret)) != 1) revert ProofRejected();
        testSetCommitment = keccak256(proof[:TEST_SET_BYTES]);
        modelCommitment = uint256(keccak256(proof[TEST_SET_BYTES:COMMITMENT_BYTES]));
        correctCount = instances[0];
    }

    /// @notice The shared Halo2 verifier this adapter calls.
    function verifier() external view returns (address) {
        return _verifier;
    }

    /// @notice keccak256 of this circuit's VKA, as registered with the shared verifier.
    function vkaDigest() external view returns (bytes32) {
        return _vkaDigest;
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
