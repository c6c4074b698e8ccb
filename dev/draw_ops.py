"""How many torch operations drawing one MixUp or CutMix from a torch.Generator
on a GPU takes, counted on a machine without one.

On a CUDA device each torch operation is a kernel launch, about 2 us of device
time however few numbers it touches (dev/gpu_probe.py lists them on a GPU),
so the count is what the draws cost there. This runs the device path on a
CPU generator (the host shortcut, which a CUDA generator never takes, turned
off) with torch's own operations, then with the draws kernel in Triton's
interpreter, and counts the operations that launch work (allocations and the
interpreter's own copies left out; the draws kernel counted as one). The
torch column's randperm is what a CPU generator draws its partners with
(and a CUDA one did, about five kernels); on a GPU, without the kernel, they
are now a stable argsort of uniform keys, which the kernel ranks instead.

    TRITON_INTERPRET=1 python dev/draw_ops.py
"""

from __future__ import annotations

import collections
import os
import sys
from typing import Any

if os.environ.get("TRITON_INTERPRET") != "1":
    sys.exit("run with TRITON_INTERPRET=1 (the draws kernel runs in Triton's interpreter)")

import torch
from torch.utils._python_dispatch import TorchDispatchMode

import arraymix
from arraymix import _random
from arraymix._backends import routed, torch_cuda

#: Operations that launch nothing on a GPU, or only the interpreter makes.
SILENT = {"empty", "empty_like", "new_empty", "set_", "select", "view", "unsqueeze",
          "alias", "detach"}


class Ops(TorchDispatchMode):
    """Counts torch operations by name."""

    def __init__(self) -> None:
        super().__init__()
        self.names: collections.Counter[str] = collections.Counter()

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (),
                           kwargs: Any = None) -> Any:
        self.names[func.overloadpacket.__name__] += 1
        return func(*args, **(kwargs or {}))


class Launches:
    """Calls of the draws kernel."""

    def __init__(self) -> None:
        self.count = 0
        self.kernel = torch_cuda.fused_draws

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.count += 1
        return self.kernel(*args, **kwargs)


def launches(call: Any, fused: bool) -> tuple[int, str]:
    """Launching operations of one call (after a first one), and their names."""
    gen = torch.Generator().manual_seed(0)
    kernel = Launches()
    # host tensors through the CUDA backend (its draws kernel), or the generic one
    with routed("cpu", "cuda" if fused else "meta"):
        call(gen)
        torch_cuda.fused_draws = kernel
        try:
            with Ops() as ops:
                call(gen)
        finally:
            torch_cuda.fused_draws = kernel.kernel
    if fused:  # the interpreter's copies are the kernel's loads and stores
        ops.names.pop("copy_", None)
    names = {k: v for k, v in ops.names.items() if k not in SILENT}
    if kernel.count:
        names["draws kernel"] = kernel.count
    return sum(names.values()), ", ".join(f"{k} {v}" if v > 1 else k for k, v in names.items())


def main() -> None:
    _random._TorchSource.host = lambda self, a: None  # type: ignore[method-assign]
    calls = {
        "sample_mixup(gen, 64)": lambda g: arraymix.sample_mixup(g, 64),
        "sample_mixup(gen, 64, lam_mode='sample')":
            lambda g: arraymix.sample_mixup(g, 64, lam_mode="sample"),
        "sample_cutmix(gen, 64, (224, 224))":
            lambda g: arraymix.sample_cutmix(g, 64, (224, 224)),
        "sample_cutmix(gen, 64, (224, 224), lam_mode='sample')":
            lambda g: arraymix.sample_cutmix(g, 64, (224, 224), lam_mode="sample"),
    }
    for name, call in calls.items():
        before, ops_before = launches(call, fused=False)
        after, ops_after = launches(call, fused=True)
        print(f"{name}: {before} -> {after} launches\n"
              f"    torch ops:    {ops_before}\n    draws kernel: {ops_after}")


if __name__ == "__main__":
    main()
