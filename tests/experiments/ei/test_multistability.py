"""experiments/ei/multistability.py at a coarse step: the two stable states of the STP network against
spec §10.3 item 4 ((r_E, r_I) = (0.585, 1.462) and (22.569, 22.399) at K = 400)."""

import pytest

from tests.experiments.ei.helpers import run_tiny


def test_low_and_high_starts_reach_the_two_stable_states(tmp_path):
    _, _, metrics, rec = run_tiny("multistability", tmp_path, N_NEURON=50, DURATION=4.0, average=0.5)
    assert metrics["high_E"] == pytest.approx(22.569, rel=1e-3)
    assert metrics["high_I"] == pytest.approx(22.399, rel=1e-3)
    # The low start has u = U: u relaxes with τ_f = 1 s, so after 4 s it is within a few % of 0.585.
    assert metrics["low_E"] == pytest.approx(0.585, rel=0.05)
    assert metrics["low_I"] == pytest.approx(1.462, rel=0.05)
    assert rec["fixed_points"][:, 0] == pytest.approx([0.585, 5.064, 22.569], abs=2e-3)
    assert rec["stable"].tolist() == [True, False, True]
