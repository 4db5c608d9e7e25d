"""Contract cases of the losses beyond the foundation's PoissonLoss."""

import ndnx

OTHER_CASES = {
    "GaussianLoss": lambda: ndnx.losses.GaussianLoss(convention="ndnt"),
}
