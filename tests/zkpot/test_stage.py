"""The stage function: training secret, tamper evidence, stage chain, bisection, determinism."""

import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from zkpot.datasets import demo_dataset
from zkpot.hashing import keccak
from zkpot.pot import fixedpoint as fp
from zkpot.spec import PRESET_DATASETS as DATA, build_model, preset
from zkpot.stage import (StageError, TrainingSecret, TrainingState, evaluate, first_divergence, initial_weights,
                         train_stage, weights_to_float_state_dict)


def chunk(name: str, n: int = 40, start: int = 0):
    return demo_dataset(DATA[name]).subset(np.arange(start, start + n))


def rho_by_hand(losses) -> bytes:
    """Eq. 1 written out: rho = H(l_n || H(l_{n-1} || ... H(l_1))), l_j as int64 big-endian."""
    encoded = [int(v).to_bytes(8, "big", signed=True) for v in losses]
    h = keccak(encoded[0])
    for e in encoded[1:]:
        h = keccak(e + h)
    return h


@pytest.fixture(scope="module")
def mlp_stage():
    spec = preset("digits-mlp")
    return spec, train_stage(spec, initial_weights(spec), chunk("digits-mlp"), 1)


def test_rho_matches_an_independent_implementation_of_eq1(mlp_stage):
    _, result = mlp_stage
    assert len(result.losses) == 40 and result.rho == rho_by_hand(result.losses)
    assert result.checkpoints[-1] == result.rho and len(result.checkpoints) == 40
    assert result.checkpoints[0] == keccak(int(result.losses[0]).to_bytes(8, "big", signed=True))


def test_losses_are_real_cross_entropies(mlp_stage):
    spec, result = mlp_stage
    # untrained 10-class model: the first losses are near ln(10)
    assert abs(result.losses[:16].mean() / 2**16 - math.log(10)) < 0.3


def test_tampering_one_sample_changes_rho_and_weights(mlp_stage):
    spec, result = mlp_stage
    data = chunk("digits-mlp")
    x = data.features.copy()
    x[23, 5] += 1 / 16
    tampered = train_stage(spec, initial_weights(spec), (x, data.labels), 1)
    assert tampered.rho != result.rho and tampered.weights_hash != result.weights_hash
    # bisection finds the first sample whose loss (hence chain value) differs: within sample 23's batch
    first = first_divergence(result.checkpoints, tampered.checkpoints)
    assert first == int(np.argmax(result.losses != tampered.losses))
    assert 16 <= first <= 23
    assert result.checkpoints[:first] == tampered.checkpoints[:first]


def test_tampering_one_weight_changes_rho_and_hash(mlp_stage):
    spec, result = mlp_stage
    s0 = initial_weights(spec)
    s0.params["0.weight"][3, 20] += 2**12          # 2^-8 on a weight of a central pixel
    tampered = train_stage(spec, s0, chunk("digits-mlp"), 1)
    assert s0.hash() != initial_weights(spec).hash()
    assert tampered.rho != result.rho and tampered.weights_hash != result.weights_hash


def test_a_one_ulp_weight_change_always_changes_the_weights_hash(mlp_stage):
    # below the Q16 loss resolution rho may not move; H(S_{i+1}), declared beside it, does
    spec, result = mlp_stage
    s0 = initial_weights(spec)
    s0.params["0.weight"][3, 7] += 1
    assert train_stage(spec, s0, chunk("digits-mlp"), 1).weights_hash != result.weights_hash


@pytest.mark.parametrize("losses", [[0], [-1, 1], [2**63 - 1, -2**63, 65536, -65536, 255, -256, 0]])
def test_training_secret_encodes_every_int64_like_eq1_by_hand(losses):
    for given in (losses, np.array(losses, dtype=np.int64), torch.tensor(losses, dtype=torch.int64)):
        secret = TrainingSecret.from_losses(given)
        assert secret.rho == rho_by_hand(losses) and len(secret.checkpoints) == len(losses)
        assert all(type(c) is bytes and len(c) == 32 for c in secret.checkpoints)
    with pytest.raises(StageError):
        TrainingSecret.from_losses([])


def test_first_divergence_bisects():
    a = [bytes([i]) for i in range(100)]
    assert first_divergence(a, list(a)) is None
    for k in (0, 1, 57, 99):
        b = a[:k] + [b"x" + c for c in a[k:]]
        assert first_divergence(a, b) == k
    assert first_divergence(a, a[:40]) == 40


def test_stage_chain_is_reproducible_through_bytes():
    spec = preset("digits-cnn")
    s0 = initial_weights(spec)
    assert s0.to_bytes() == initial_weights(spec).to_bytes()
    r1 = train_stage(spec, s0.to_bytes(), chunk("digits-cnn", 32), 1)
    r2 = train_stage(spec, r1.state_bytes, chunk("digits-cnn", 32, 32), 2)
    again = train_stage(spec, TrainingState.from_bytes(r1.state_bytes), chunk("digits-cnn", 32, 32), 2)
    assert (r2.weights_hash, r2.rho) == (again.weights_hash, again.rho)
    assert r2.state.step == 4 and r2.weights_hash != r1.weights_hash
    # the stage index seeds dropout: the MLP trained on the same data as another stage differs
    mlp = preset("digits-mlp")
    assert train_stage(mlp, initial_weights(mlp), chunk("digits-mlp"), 1).rho != \
        train_stage(mlp, initial_weights(mlp), chunk("digits-mlp"), 2).rho


def test_state_must_fit_the_spec():
    with pytest.raises(StageError, match="do not match"):
        train_stage(preset("digits-mlp"), initial_weights(preset("wine-mlp")), chunk("digits-mlp"), 1)


@pytest.mark.parametrize("name", ["digits-cnn", "wine-mlp"])
def test_the_device_code_path_gives_the_cpu_bits(name):
    # "cpu-torch" runs every step in torch, as on a GPU; the CPU default runs the optimiser in numpy
    spec, data = preset(name), chunk(name, 41)
    cpu = train_stage(spec, initial_weights(spec), data, 3)
    device_path = train_stage(spec, initial_weights(spec).to_bytes(), data, 3, device="cpu-torch")
    assert (cpu.state_bytes, cpu.rho, cpu.checkpoints) == (device_path.state_bytes, device_path.rho,
                                                           device_path.checkpoints)


def test_selfcheck_compares_devices_and_says_when_one_cannot_run(capsys):
    from zkpot.pot.selfcheck import main

    assert main(["--selfcheck", "--compare", "cpu,cpu-torch", "--presets", "wine-mlp", "--samples", "20"]) == 0
    out, err = capsys.readouterr()
    assert out.count("wine-mlp stage") == 2 and "equal on cpu cpu-torch" in out and "ALL EQUAL" in out
    assert "cpu optimiser step and loss: fused native kernel" in err         # which CPU path ran
    if not torch.cuda.is_available():
        assert main(["--selfcheck", "--compare", "cpu,cuda", "--presets", "wine-mlp", "--samples", "20"]) == 2
        assert "no CUDA device" in capsys.readouterr().out


def test_float_state_dict_loads_into_the_float_model_exactly():
    spec = preset("digits-cnn")
    state = initial_weights(spec)
    model = build_model(spec)
    model.load_state_dict(weights_to_float_state_dict(state))
    w = model.state_dict()["0.weight"].double() * 2**fp.W_FRAC
    assert torch.equal(w.long(), torch.from_numpy(state.params["0.weight"]))
    acc = evaluate(spec, state, chunk("digits-cnn").features, chunk("digits-cnn").labels)
    assert 0.0 <= acc <= 1.0


def test_training_learns():
    spec = preset("wine-mlp")
    ds = demo_dataset("wine")
    order = np.random.default_rng(0).permutation(len(ds))
    state = initial_weights(spec)
    before = evaluate(spec, state, ds.features, ds.labels)
    for stage in range(1, 4):
        state = train_stage(spec, state, ds.subset(order), stage).state
    assert evaluate(spec, state, ds.features, ds.labels) > max(0.9, before)


def test_exact_products_beyond_float64_integer_range():
    gen = torch.Generator().manual_seed(0)
    a = torch.randint(-2**26, 2**26, (3, 3000), generator=gen)
    b = torch.randint(-2**24, 2**24, (3000, 2), generator=gen)
    exact = [[sum(int(x) * int(y) for x, y in zip(a[i].tolist(), b[:, j].tolist())) for j in range(2)] for i in range(3)]
    assert fp.mm_exact(a, b).tolist() == exact


def test_fixed_point_exp_ln_and_isqrt():
    d = np.arange(0, 16 * 2**16, 4099)
    got = fp.exp_neg_q30(d) / 2**30
    assert np.allclose(got, np.exp(-d / 2**16), atol=2e-9)
    s = np.array([2**30, 3 * 2**29, 10 * 2**30, 999 * 2**30 + 12345])
    assert np.allclose(fp.ln_q30(s) / 2**30, np.log(s / 2**30), atol=1e-8)
    n = torch.tensor([0, 1, 15, 16, 17, 2**54 - 1, 2**54, 2**54 + 1, 123456789012345])
    assert fp.isqrt(n).tolist() == [math.isqrt(v) for v in n.tolist()]


SCRIPT = """
import sys, numpy as np, torch
torch.set_num_threads(int(sys.argv[1]))
from zkpot.datasets import demo_dataset
from zkpot.spec import preset
from zkpot.stage import initial_weights, train_stage
name, data = sys.argv[2], sys.argv[3]
spec, ds = preset(name), demo_dataset(data)
r1 = train_stage(spec, initial_weights(spec), ds.subset(np.arange(48)), 1)
r2 = train_stage(spec, r1.state_bytes, ds.subset(np.arange(48, 96)), 2)
print(torch.get_num_threads(), r1.weights_hash.hex(), r1.rho.hex(), r2.weights_hash.hex(), r2.rho.hex())
"""


@pytest.mark.parametrize("name", sorted(DATA))
def test_fresh_processes_with_1_and_2_threads_agree_bit_for_bit(name):
    outputs = []
    for threads in (1, 2):
        run = subprocess.run([sys.executable, "-c", SCRIPT, str(threads), name, DATA[name]], capture_output=True,
                             text=True, check=True, env={**os.environ, "OMP_NUM_THREADS": str(threads)})
        outputs.append(run.stdout.split())
    assert [o[0] for o in outputs] == ["1", "2"]
    assert outputs[0][1:] == outputs[1][1:]
    spec = preset(name)
    r1 = train_stage(spec, initial_weights(spec), demo_dataset(DATA[name]).subset(np.arange(48)), 1)
    assert [r1.weights_hash.hex(), r1.rho.hex()] == outputs[0][1:3]
