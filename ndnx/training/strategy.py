"""Choosing a tf.distribute strategy (placeholder until the distributed module lands)."""

import tensorflow as tf

__all__ = ["strategy", "is_chief", "is_default_strategy"]


def is_default_strategy(strategy):
    return type(strategy).__name__ == "_DefaultDistributionStrategy"


def strategy():
    return tf.distribute.get_strategy()


def is_chief(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (resolver.task_type == "worker" and resolver.task_id == 0)
