"""A torch.Tensor subclass stays that subclass through every array function,
as torch's own operations keep it (on every path: walk, blocks, lerp)."""

from __future__ import annotations

import numpy as np
import pytest

import arraymix

torch = pytest.importorskip("torch", reason="torch is not installed")


class Tagged(torch.Tensor):
    """A subclass as a library defines one for its own dispatch."""


@pytest.mark.parametrize("shape", [(4, 16), (4, 3, 8, 8), (4, 3, 96, 96)])
def test_subclass_survives(shape):
    x = torch.rand(*shape).as_subclass(Tagged)
    axes = (-1,) if len(shape) == 2 else (-2, -1)
    p = arraymix.sample_mixup(0, 4, xp=torch, device="cpu")
    c = arraymix.sample_cutmix(0, 4, [shape[a] for a in axes], lam_mode="sample", xp=torch,
                               device="cpu")
    results = [arraymix.blend(x, p), arraymix.paste(x, c, axes=axes), arraymix.mix(x, c, axes=axes),
               arraymix.mixup(x, rng=0)[0], arraymix.cutmix(x, axes=axes, rng=0)[0],
               arraymix.blend(x, p, out=x.clone()),
               arraymix.Mixer(cutmix_axes=axes, seed=0)(x)[0]]
    for r in results:
        assert type(r) is Tagged
    np.testing.assert_array_equal(arraymix.blend(x, p).as_subclass(torch.Tensor).numpy(),
                                  arraymix.blend(x.as_subclass(torch.Tensor), p).numpy())


def test_subclass_boxes_and_loss():
    boxes = torch.tensor([[[0.0, 0.0, 4.0, 4.0]], [[2.0, 2.0, 8.0, 8.0]]]).as_subclass(Tagged)
    valid = torch.ones(2, 1, dtype=torch.bool)
    c = arraymix.sample_cutmix(0, 2, (8, 8), xp=torch, device="cpu")
    assert type(arraymix.paste_boxes(boxes, valid, c)[0]) is Tagged
    logits = torch.randn(2, 5).as_subclass(Tagged)
    assert type(arraymix.mixed_cross_entropy(logits, torch.tensor([0, 3]), c)) is Tagged
