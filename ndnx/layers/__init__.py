"""Feedforward ndnx layers (each registered with Keras under package "ndnx")."""

from ndnx.layers.dense import Dense
from ndnx.layers.dog import DifferenceOfGaussians, DoGInitializer, dog_sigma_upper_bound

__all__ = ["Dense", "DifferenceOfGaussians", "DoGInitializer", "dog_sigma_upper_bound"]
