"""`xla_helps` (ndnx.training.xla): the decision behind jit_compile="auto", resolved at call time so
that importing ndnx or its models never imports ndnx.training."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from ndnx.models import v1
from ndnx.training.xla import xla_helps

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ON_CPU = not tf.config.list_physical_devices("GPU")


@pytest.mark.skipif(not ON_CPU, reason="on a GPU XLA always helps")
def test_on_the_cpu_per_replica_feature_maps_turn_xla_off():
    shape = dict(input_shape=(15, 15, 1), seed=0, replicas=2)
    assert xla_helps(v1.hsm(6, **shape))
    # one conv on the shared input image: a grouped convolution XLA handles well
    assert xla_helps(v1.conv_readout(6, filters=3, kernel_size=5, **shape))
    # the second conv runs over one feature map per replica
    assert not xla_helps(v1.what_where(6, maps=4, kernel_sizes=(5, 3, 3), **shape))
    # one seed alone has no replica axis at all
    assert xla_helps(v1.what_where(6, maps=4, kernel_sizes=(5, 3, 3), input_shape=(15, 15, 1), seed=0))


def test_compile_recipe_resolves_auto_with_xla_helps():
    y = np.random.default_rng(0).poisson(1.0, size=(20, 6)).astype("float32")
    for build in (lambda: v1.hsm(6, input_shape=(15, 15, 1), seed=0, replicas=2),
                  lambda: v1.what_where(6, maps=4, kernel_sizes=(5, 3, 3), input_shape=(15, 15, 1), seed=0,
                                        replicas=2)):
        model = v1.compile_recipe(build(), y)
        assert model.jit_compile is xla_helps(model)
        assert v1.compile_recipe(build(), y, jit_compile=False).jit_compile is False
    with pytest.raises(ValueError, match="compile_recipe: jit_compile must be 'auto', True or False, got 'yes'"):
        v1.compile_recipe(build(), y, jit_compile="yes")


def test_models_do_not_import_training_and_the_old_name_still_works():
    code = ("import sys; import ndnx, ndnx.models.v1 as v1; "
            "assert 'ndnx.training' not in sys.modules, sorted(m for m in sys.modules if m.startswith('ndnx'));"
            "from ndnx.training.xla import xla_helps; assert v1.xla_helps is xla_helps; print('ok')")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
