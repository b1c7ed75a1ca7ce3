import numpy as np
import pytest

from zkpot.datasets import demo_dataset
from zkpot.federated.split import dirichlet_split, label_histogram


def test_split_is_a_disjoint_cover_and_seeded():
    y = demo_dataset("digits").labels
    parts = dirichlet_split(y, 5, alpha=0.5, seed=3)
    joined = np.concatenate(parts)
    assert sorted(joined.tolist()) == list(range(len(y)))
    again = dirichlet_split(y, 5, alpha=0.5, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(parts, again))


def test_small_alpha_skews_labels_more_than_large_alpha():
    y = demo_dataset("digits").labels

    def skew(alpha):  # mean share of each participant's most common class
        hist = label_histogram(y, dirichlet_split(y, 5, alpha=alpha, seed=1), 10)
        return float(np.mean(hist.max(1) / hist.sum(1)))

    assert skew(0.3) > 2 * skew(100.0)


def test_every_participant_gets_the_minimum():
    y = demo_dataset("digits").labels
    parts = dirichlet_split(y, 8, alpha=0.3, seed=0, min_samples=40)
    assert min(len(p) for p in parts) >= 40


def test_too_many_participants_is_refused():
    with pytest.raises(ValueError):
        dirichlet_split(np.zeros(10, dtype=int), 5, min_samples=3)
