"""PyTorch: a Mixer as the DataLoader's collate function, a torch.compile'd step.

``mixer.collate`` stacks each batch and mixes it in one pass, in the worker
processes (each draws its own stream, nothing to configure); the compiled
training step gets batches already mixed, with soft targets for
cross_entropy.

    python examples/torch_train.py            # 4 workers, 3 epochs
    python examples/torch_train.py --tiny     # what the tests run
"""

from __future__ import annotations

import argparse

import torch

import arraymix


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tiny", action="store_true")
    args = parser.parse_args()
    torch.manual_seed(0)  # the shuffling, the workers' seeds and so the mixing
    n, epochs, workers = (256, 1, 2) if args.tiny else (2048, 3, 4)
    images = torch.rand(n, 3, 16, 16)
    labels = (images.mean(dim=(1, 2, 3)) * 20).long() % 10   # something learnable
    data = torch.utils.data.TensorDataset(images, labels)
    mixer = arraymix.Mixer(num_classes=10, mixup_alpha=0.8, cutmix_alpha=1.0,
                           label_smoothing=0.1, seed=0)
    loader = torch.utils.data.DataLoader(data, batch_size=64, shuffle=True,
                                         num_workers=workers, collate_fn=mixer.collate,
                                         persistent_workers=True)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(),
                                torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten(),
                                torch.nn.Linear(256, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def step(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = torch.nn.functional.cross_entropy(model(x), y)  # mixed batch, soft targets
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.detach()

    compiled = torch.compile(step, backend="aot_eager" if args.tiny else "inductor")
    for epoch in range(epochs):
        losses = [float(compiled(x, y)) for x, y in loader]
        print(f"epoch {epoch}: mean loss {sum(losses) / len(losses):.4f}")


if __name__ == "__main__":
    main()
