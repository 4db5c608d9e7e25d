"""dual_accuracy: NeuroFlame's task accuracy (σ(z), negatives mirrored) and the trial's decision, by hand."""

import math

import numpy as np
import pytest

from ndnx.metrics import dual_accuracy


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


# three trials, four frames, two channels (labels c0, c1, windows c0, c1)
NAN = float("nan")
Y = np.array([
    [[1, NAN, 0, 0], [1, NAN, 1, 0], [1, NAN, 1, 0], [1, NAN, 0, 0]],   # c0 label 1 in frames 1-2; no c1 label
    [[0, 1, 0, 0], [0, 1, 0, 1], [0, 1, 1, 1], [0, 1, 1, 0]],           # c0 label 0 in frames 2-3; c1 label 1
    [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 1]],           # c0 no window frame; c1 label 0
], dtype="float64")
Z = np.array([
    [[9, 9, 9], [3, 9, 0], [-1, 9, 0], [9, 9, 9]],
    [[9, 9, 9], [9, 9, 2], [0.5, 9, 2], [-0.5, 9, 9]],
    [[9, 9, 9], [9, 9, 9], [9, 9, -3], [9, 9, 1]],
], dtype="float64")  # channel 0 reads column 0, channel 1 column 2; 9 marks frames no score sees


def test_scores_by_hand():
    out = dual_accuracy(Y, Z, read_idx=(0, 2))
    c0 = [(sigmoid(3) + sigmoid(-1)) / 2, (2 - sigmoid(0.5) - sigmoid(-0.5)) / 2]   # trial 3 has no c0 frame
    c1 = [(sigmoid(2) + sigmoid(2)) / 2, (2 - sigmoid(-3) - sigmoid(1)) / 2]        # trial 1 has no c1 label
    np.testing.assert_allclose(out["accuracy"], [np.mean(c0), np.mean(c1)], rtol=1e-12)
    # decisions: c0 means 1.0 (label 1, right) and 0.0 (label 0, right); c1 means 2 (right) and −1 (right)
    np.testing.assert_allclose(out["choice_accuracy"], [1.0, 1.0])
    # threshold 1.5: the label-1 trial of c0 (mean 1.0) now decides "no"
    np.testing.assert_allclose(dual_accuracy(Y, Z, read_idx=(0, 2), threshold=1.5)["choice_accuracy"], [0.5, 1.0])


def test_a_trial_blind_readout_scores_one_class_fraction():
    y = np.zeros((4, 2, 2))
    y[:, :, 1] = 1.0
    y[:2, :, 0] = 1.0   # two match, two non-match trials
    z = np.full((4, 2, 1), 2.0)   # the same readout on every trial
    assert dual_accuracy(y, z)["choice_accuracy"][0] == 0.5


def test_replica_axis_scores_each_replica():
    z = np.stack([Z, -Z, Z], axis=2)
    out = dual_accuracy(Y, z, read_idx=(0, 2), replica_axis=2)
    lone = dual_accuracy(Y, Z, read_idx=(0, 2))
    flipped = dual_accuracy(Y, -Z, read_idx=(0, 2))
    np.testing.assert_allclose(out["accuracy"], [lone["accuracy"], flipped["accuracy"], lone["accuracy"]])
    np.testing.assert_allclose(out["choice_accuracy"][1], flipped["choice_accuracy"])


def test_bad_shapes_are_one_line_errors():
    with pytest.raises(ValueError, match=r"targets must have shape \(3, 4, 2\), got \(3, 4, 4\)"):
        dual_accuracy(Y, Z, read_idx=(0,))
    with pytest.raises(ValueError, match="read_idx \\[0, 3\\] needs readout columns up to 3"):
        dual_accuracy(Y, Z, read_idx=(0, 3))
    with pytest.raises(ValueError, match="predictions must have rank 4"):
        dual_accuracy(Y, Z, read_idx=(0, 2), replica_axis=2)
