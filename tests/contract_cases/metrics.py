"""Contract cases of the repeat-trial metrics (ndnx.metrics). The contract test feeds a 2-D y_true,
which these metrics read as one trial per image."""

import ndnx

OTHER_CASES = {
    "SingleTrialCorrelation": lambda: ndnx.metrics.SingleTrialCorrelation(units=3),
    "CorrelationToAverage": lambda: ndnx.metrics.CorrelationToAverage(units=3),
    "FEVE": lambda: ndnx.metrics.FEVE(units=3, clip=True, fev_threshold=0.15),
    "OracleCorrelation": lambda: ndnx.metrics.OracleCorrelation(units=3, method="conservative"),
}
