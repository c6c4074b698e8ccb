"""arraymix: MixUp, CutMix and their family for every array API library.

One implementation, written against the Python array API standard, mixes
NumPy arrays, PyTorch tensors (CPU and CUDA), JAX arrays and the arrays of any
other array API library where they live, inside ``jax.jit`` and
``torch.compile``, with reproducible randomness.

The randomness (:func:`sample_mixup`, :func:`sample_cutmix`) is split from
the arithmetic (:func:`blend`, :func:`paste`): parameters are plain data that
can be logged, replayed, applied to several arrays, or passed into compiled
code. :func:`mixup`, :func:`cutmix` and :class:`Mixer` compose the two.
"""

from ._api import cutmix, mixup
from ._apply import blend, mix, paste
from ._backends.reuse import release_memory
from ._collate import collate
from ._detection import blend_boxes, paste_boxes, paste_points
from ._family import (
    fmix,
    mosaic,
    patchmix,
    resizemix,
    sample_fmix,
    sample_mosaic,
    sample_patchmix,
    sample_resizemix,
)
from ._labels import one_hot
from ._losses import mixed_cross_entropy
from ._mixer import Mixer
from ._params import CutMixParams, MaskParams, MixerParams, MixParams, MosaicParams, ResizeMixParams
from ._sample import sample_cutmix, sample_mixup

__all__ = [
    "CutMixParams",
    "MaskParams",
    "MixParams",
    "Mixer",
    "MixerParams",
    "MosaicParams",
    "ResizeMixParams",
    "blend",
    "blend_boxes",
    "collate",
    "cutmix",
    "fmix",
    "mix",
    "mixed_cross_entropy",
    "mixup",
    "mosaic",
    "one_hot",
    "paste",
    "paste_boxes",
    "paste_points",
    "patchmix",
    "release_memory",
    "resizemix",
    "sample_cutmix",
    "sample_fmix",
    "sample_mixup",
    "sample_mosaic",
    "sample_patchmix",
    "sample_resizemix",
]

__version__ = "0.1.0"
