"""Instructions per thread of the fused paste kernel, without a GPU.

    python bench/kernel_size.py

Compiles ``paste_kernel`` (arraymix._triton) for sm_90 as the dispatch
launches it on a 64x3x224x224 batch cut on (H, W), float32 and bfloat16,
and counts the SASS instructions of each (Triton's own nvdisasm). On a GPU
the paste is compute-bound at 2-byte dtypes, so fewer instructions per
element is what a GPU run would time; run it on two revisions to compare.
Needs Triton (CUDA builds of torch bring it; the test extras install it).
"""

from __future__ import annotations

import re
from collections import Counter

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from triton.tools.disasm import get_sass

from arraymix import _fast, _triton

INNER = 3 * 224 * 224


def sass(dtype: str) -> list[str]:
    kernel = _triton.paste_kernel
    steps, sizes = [224, 1], [224, 224]
    constexprs = {"k": 2, "block": _fast._block(INNER)}
    ways = getattr(_fast, "_axis_ways", None)  # absent before the quotients were shared
    constexprs.update(ways(steps, sizes) if ways else {})
    signature, attrs = {}, {}
    for i, name in enumerate(kernel.arg_names):
        if name in constexprs:
            signature[name] = "constexpr"
        elif name in ("x_ptr", "out_ptr"):
            signature[name] = f"*{dtype}"
        elif name.endswith("_ptr"):
            signature[name] = "*i64"
        elif name.startswith(("step", "span")):
            signature[name] = "i64"
        else:
            signature[name] = "i32"
        if name.endswith("_ptr") or name == "inner":
            attrs[(i,)] = [["tt.divisibility", 16]]
    compiled = triton.compile(ASTSource(fn=kernel, signature=signature, constexprs=constexprs,
                                        attrs=attrs),
                              target=GPUTarget("cuda", 90, 32),
                              options={"num_warps": 4, **_fast._COMPILE})
    return [line.split("\t", 1)[1] for line in get_sass(compiled.asm["cubin"]).splitlines()
            if re.match(r"^[0-9a-f-]{2}:", line) and "\t" in line]


def main() -> None:
    per_thread = _fast._block(INNER) // (4 * 32)
    for dtype in ("fp32", "bf16"):
        code = sass(dtype)
        ops = Counter(line.split()[0].split(".")[0] for line in code)
        print(f"paste_kernel {dtype}: {len(code)} instructions for {per_thread} elements a "
              f"thread; most: " + ", ".join(f"{op} {n}" for op, n in ops.most_common(6)))


if __name__ == "__main__":
    main()
