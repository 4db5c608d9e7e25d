"""Feedforward ndnx layers (each registered with Keras under package "ndnx")."""

from ndnx.layers.replicas import ReplicatedLayer
from ndnx.layers.dense import Dense
from ndnx.layers.conv import Conv2D
from ndnx.layers.conv_dog import ConvDifferenceOfGaussians
from ndnx.layers.lin_scale import LinScale
from ndnx.layers.dog import DifferenceOfGaussians, DoGInitializer, dog_sigma_upper_bound
from ndnx.layers.readout import Readout
from ndnx.layers.separable_readout import SeparableReadout
from ndnx.layers.gaussian_readout import GaussianReadout
from ndnx.layers.point_readout import PointReadout
from ndnx.layers.mlp_shifter import MLPShifter
from ndnx.layers.dropout import Dropout
from ndnx.layers.weight_norm import WeightNormConv2D, WeightNormDense
from ndnx.layers.dirac import DiracInitializer

__all__ = ["ReplicatedLayer", "Dropout", "Conv2D", "ConvDifferenceOfGaussians", "LinScale", "Readout", "SeparableReadout", "GaussianReadout", "PointReadout", "MLPShifter", "Dense", "DifferenceOfGaussians", "DoGInitializer", "dog_sigma_upper_bound", "WeightNormConv2D", "WeightNormDense", "DiracInitializer"]
