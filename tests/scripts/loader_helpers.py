"""A dataset and a collate function for the DataLoader tests (importable by
spawned workers)."""

from __future__ import annotations

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


class MixCollate:
    """The user's whole integration: a collate function that calls the Mixer."""

    def __init__(self, mixer: arraymix.Mixer) -> None:
        self.mixer = mixer

    def __call__(self, batch: list[tuple[torch.Tensor, int]]) -> tuple[torch.Tensor, ...]:
        x = torch.stack([b[0] for b in batch])
        y = torch.tensor([b[1] for b in batch])
        return self.mixer(x, y)


def run(context: str, workers: int = 4) -> list[list[float]]:
    """The mixed label rows of every batch of one pass, in loader order."""
    torch.manual_seed(0)
    mixer = arraymix.Mixer(num_classes=CLASSES, label_smoothing=0.0, seed=123,
                           lam_mode="sample")
    loader = torch.utils.data.DataLoader(
        Constant(), batch_size=16, shuffle=False, num_workers=workers,
        collate_fn=MixCollate(mixer), multiprocessing_context=context if workers else None)
    return [y.flatten().tolist() for _, y in loader]
