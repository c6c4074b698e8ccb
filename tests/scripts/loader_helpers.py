"""A dataset and a collate function for the DataLoader tests (importable by
spawned workers)."""

from __future__ import annotations

import functools

import torch

import arraymix

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
        collate_fn=mixer.collate, multiprocessing_context=context if workers else None)
    return [y.flatten().tolist() for _, y in loader]


def run_collate(context: str, seed: int, compiled: bool = False) -> list[list[float]]:
    """The same pass with ``Mixer.collate`` as the collate_fn, on uint8
    samples large enough for the walk (a small batch is stacked, then mixed,
    and compiles nothing): the mixed label rows and the first pixel of
    every sample."""
    torch.manual_seed(0)
    data = [(torch.full((3, 64, 64), i % 16, dtype=torch.uint8), i % 16)
            for i in range(16 * 8)]
    mixer = arraymix.Mixer(num_classes=CLASSES, label_smoothing=0.0, seed=seed,
                           lam_mode="sample")
    loader = torch.utils.data.DataLoader(data, batch_size=16, shuffle=False, num_workers=2,
                                         collate_fn=functools.partial(mixer.collate,
                                                                      compiled=compiled),
                                         multiprocessing_context=context)
    return [y.flatten().tolist() + x[:, 0, 0, 0].tolist() for x, y in loader]
