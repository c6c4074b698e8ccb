"""Instructions per thread of the fused paste kernel, without a GPU.

    python dev/kernel_size.py

Compiles ``paste_kernel`` (arraymix._backends._triton) for sm_90 as the dispatch
launches it on a 64x3x224x224 batch cut on (H, W), float32 and bfloat16
(with tests/scripts/fused_compile.py's ``build``), and counts the SASS
instructions of each (Triton's own nvdisasm). On a GPU the paste is
compute-bound at 2-byte dtypes, so fewer instructions per element is what a
GPU run would time.

Needs Triton (CUDA builds of torch bring it; the test extras install it).
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

import torch
from triton.tools.disasm import get_sass

from arraymix._backends import _triton
from arraymix._backends import torch_cuda as _fast

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "scripts"))
from fused_compile import build

INNER = 3 * 224 * 224


def main() -> None:
    constexprs = {"k": 2, "block": _fast.block_for(INNER), **_fast.axis_ways([224, 1], [224, 224])}
    per_thread = _fast.block_for(INNER) // (4 * 32)
    for dtype in (torch.float32, torch.bfloat16):
        compiled = build(_triton.paste_kernel, dtype, INNER, constexprs, 4, 90)
        code = [line.split("\t", 1)[1] for line in get_sass(compiled.asm["cubin"]).splitlines()
                if re.match(r"^[0-9a-f-]{2}:", line) and "\t" in line]
        ops = Counter(line.split()[0].split(".")[0] for line in code)
        print(f"paste_kernel {dtype}: {len(code)} instructions for {per_thread} elements a "
              f"thread; most: " + ", ".join(f"{op} {n}" for op, n in ops.most_common(6)))


if __name__ == "__main__":
    main()
