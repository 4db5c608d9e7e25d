"""Contract cases of the NDN3/NDNT penalties (see tests/test_contract.py).

The contract calls each regularizer on a (4, 3) kernel, so spatial penalties are bound to a
filter shape with 4 entries. L1 and L2 keep their cases in v1_core.py.
"""

import ndnx
from ndnx import regularizers as R

OTHER_CASES = {
    "D2X": lambda: R.D2X([0.1, 0.2, 0.3], filter_shape=(2, 2, 1)),
    "D2T": lambda: R.D2T(0.2, convention="ndnt", filter_shape=(1, 1, 4)),
    "D2XT": lambda: R.D2XT(0.3, boundary="zero", filter_shape=(2, 2, 1)),
    "Max": lambda: R.Max(0.5, convention="ndnt"),
    "MaxFilt": lambda: R.MaxFilt(0.5, filter_shape=(1, 2, 2)),
    "MaxSpace": lambda: R.MaxSpace([0.1, 0.2, 0.3], convention="ndnt", filter_shape=(1, 2, 2)),
    "Center": lambda: R.Center(2.0, filter_shape=(2, 2, 1)),
    "Local": lambda: R.Local(0.4, filter_shape=(2, 2, 1)),
    "GLocal": lambda: R.GLocal(0.4, convention="ndnt", filter_shape=(1, 2, 2)),
    "Orth": lambda: R.Orth(0.1),
    "Norm2": lambda: R.Norm2(0.1, convention="ndnt"),
    "Combined": lambda: ndnx.regularizers.Combined(
        [R.D2X(0.1, boundary="free", filter_shape=(4, 1, 1)), R.L1([0.1, 0.2, 0.3])]),
}
