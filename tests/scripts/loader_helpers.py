"""A dataset and a collate function for the DataLoader tests (importable by
spawned workers)."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

import arraymix

# The example's collate function, as users would take it from there.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
from torch_train import Collate

CLASSES = 16


class Constant(torch.utils.data.Dataset):  # type: ignore[type-arg]
    """Sample i is a constant image of value i with class i: every batch of
    16 consecutive samples is the same, so equal mixes mean equal draws."""

    def __len__(self) -> int:
        return 16 * 8

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return torch.full((1, 4, 4), float(i % 16)), i % 16


def run(context: str, workers: int = 4) -> list[list[float]]:
    """The mixed label rows of every batch of one pass, in loader order."""
    torch.manual_seed(0)
    mixer = arraymix.Mixer(num_classes=CLASSES, label_smoothing=0.0, seed=123,
                           lam_mode="sample")
    loader = torch.utils.data.DataLoader(
        Constant(), batch_size=16, shuffle=False, num_workers=workers,
        collate_fn=Collate(mixer), multiprocessing_context=context if workers else None)
    return [y.flatten().tolist() for _, y in loader]
