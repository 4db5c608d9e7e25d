"""Suite-wide settings, and the time each family's tests take (printed at the end of a run).

The README's testing section sets the budget: `make test` within 15 minutes on a 2-core machine,
each model family's tests within 2 minutes of it. The summary below shows where a run stands; it
never fails a test (speed is measured, not asserted).
"""

import collections
import fnmatch
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

#: Which tests belong to which family (fnmatch patterns on the path under tests/); the rest is the
#: foundation every family shares. A new family adds its patterns here.
FAMILY_TESTS = {
    "v1": ["experiments/v1/*", "*/test_v1*.py", "test_v1*.py", "layers/test_dog.py", "layers/test_conv_dog.py",
           "layers/test_readouts.py", "layers/test_lin_scale.py", "data/test_antolik.py",
           "data/test_synthetic_v1.py", "data/test_images.py", "test_playgrounds.py::*v1_system_identification*"],
    "ei": ["cells/test_ei_rate.py", "cells/test_stp.py", "cells/test_transfer.py", "cells/test_lif.py",
           "connectivity/*", "models/test_ei_*.py", "data/test_tasks.py", "analysis/test_decoding.py",
           "analysis/test_mean_field.py", "losses/test_task_losses.py", "experiments/ei/*",
           "metrics/test_tasks.py", "test_playgrounds.py::*[[]ei*"],
    "cordsnet": ["layers/test_weight_norm.py", "cells/test_cordsnet_cell.py", "models/test_cordsnet_model.py",
                 "convert/test_torch_checkpoint.py", "convert/test_cordsnet_convert.py",
                 "analysis/test_eigen.py", "analysis/test_cordsnet*.py", "plotting/test_cordsnet_plots.py",
                 "test_playgrounds.py::*[[]cordsnet*",
                 "models/test_cordsnet_cnn.py", "models/test_cordsnet_inverse.py", "models/test_cordsnet_distributed.py", "data/test_classification.py",
                 "experiments/cordsnet/*"],
    "feedback": ["data/test_unmixing.py", "cells/test_feedback_*.py", "models/test_feedback*.py",
                 "convert/test_naumann22*.py", "analysis/test_feedback*.py", "experiments/feedback/*",
                 "test_playgrounds.py::*feedback*", "test_contract.py::*Modulat*", "test_contract.py::*SpatialNet*",
                 "test_contract.py::*Dale*", "test_contract.py::*DirectDemix*", "test_contract.py::*FeedbackNetwork*"],
    "energy": ["energy/*", "plotting/test_energy*.py", "models/test_nrflv*.py", "experiments/nrflv/*", "test_playgrounds.py::*[[]energy*"],
}
BUDGET_SECONDS = {"family": 120}

_seconds = collections.Counter()


def family_of(nodeid):
    path = nodeid[len("tests/"):] if nodeid.startswith("tests/") else nodeid
    for family, patterns in FAMILY_TESTS.items():
        if any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(path.split("::")[0], p) for p in patterns):
            return family
    return "foundation"


def pytest_runtest_logreport(report):
    _seconds[family_of(report.nodeid)] += report.duration


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not _seconds:
        return
    budgeted = "not slow" in (config.option.markexpr or "")  # the budget is that of `make test`
    parts = []
    for family, seconds in sorted(_seconds.items(), key=lambda item: (item[0] != "foundation", item[0])):
        over = budgeted and family != "foundation" and seconds > BUDGET_SECONDS["family"]
        parts.append(f"{family} {seconds / 60:.1f} min" + (" (over the 2-minute family budget)" if over else ""))
    terminalreporter.write_line("test time by family: " + ", ".join(parts))
