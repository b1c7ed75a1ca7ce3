"""The stage function's outputs, byte for byte, against the committed golden files.

They were written before the hot path was rebuilt for speed; every preset and the coverage cases
must still produce the same state bytes, H(S), rho, losses and checkpoints. Regenerate only when
the formulas change on purpose: ``tools/with-env.sh python -m tests.zkpot.stage_golden --write``.
"""

import json

import pytest

from tests.zkpot.stage_golden import cases, path_of, render


def _first_difference(expected: dict, got: dict) -> str:
    for key in sorted(set(expected) | set(got)):
        if key == "stages":
            continue
        if expected.get(key) != got.get(key):
            return f"{key}: expected {expected.get(key)!r}, got {got.get(key)!r}"
    for old, new in zip(expected["stages"], got["stages"]):
        for key in sorted(old):
            if old[key] != new.get(key):
                if isinstance(old[key], list):
                    i = next(i for i, (a, b) in enumerate(zip(old[key], new[key])) if a != b)
                    return f"stage {old['stage']} {key}[{i}]: expected {old[key][i]}, got {new[key][i]}"
                return f"stage {old['stage']} {key}: expected {old[key]}, got {new.get(key)}"
    return "the files differ in layout only"


@pytest.mark.parametrize("name", sorted(cases()))
def test_stage_outputs_match_the_golden_file_byte_for_byte(name):
    path = path_of(name)
    assert path.exists(), f"no golden file {path.name}: run python -m tests.zkpot.stage_golden --write --only {name}"
    expected, got = path.read_bytes(), render(name)
    if got != expected:
        pytest.fail(f"{name}: {_first_difference(json.loads(expected), json.loads(got))}")
