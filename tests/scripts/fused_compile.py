"""The fused CUDA kernels (arraymix._backends._triton) compiled for NVIDIA GPUs, without one.

Triton compiles a kernel for a named target on any machine: to Triton's IR,
LLVM, PTX, and with the ptxas it ships a cubin. This script compiles every
kernel for sm_80 (A100) and sm_90 (H100/H200) with the arguments the
dispatch in arraymix._backends.torch_cuda gives it (tile shapes and warps from the same
helpers, dtypes, the cut axes), and asks ptxas for each kernel's registers
and spills. It fails on a compile error, a spill or a float product or sum
that ptxas may fuse (see torch_cuda.COMPILE), and prints "ok" and the
number of kernels compiled. tests/test_fused.py runs it where Triton is
installed; the interpreter checks the values, this checks what only a
compiler sees (types, layouts, tl.gather's lowering, register pressure).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from arraymix._backends import _triton, current
from arraymix._backends import torch_cuda as _fast

ARCHS = (80, 90)
DATA = {"x_ptr", "out_ptr", "src_ptr", "dst_ptr"}
TYPES = {torch.float16: "fp16", torch.bfloat16: "bf16", torch.float32: "fp32",
         torch.float64: "fp64", torch.uint8: "u8", torch.int32: "i32", torch.int64: "i64"}
COUNT = [0]


def ptxas(arch: int) -> str:
    """The ptxas Triton itself compiles ``arch`` with (a newer one for sm_90
    and up in some Triton releases)."""
    from triton.backends.nvidia.compiler import get_ptxas

    path: str = get_ptxas(arch).path
    return path


def build(kernel: Any, dtype: torch.dtype, inner: int, constexprs: dict[str, Any],
          warps: int, arch: int, ids: torch.dtype = torch.int64,
          types: dict[str, str] | None = None) -> Any:
    """``kernel`` compiled for sm_``arch`` as a launch on contiguous ``dtype``
    data (and class ids of dtype ``ids``) would compile it; ``types`` names
    the Triton types of arguments these rules do not cover."""
    names = kernel.arg_names
    signature: dict[str, str] = {}
    attrs: dict[tuple[int, ...], list[list[Any]]] = {}
    for i, name in enumerate(names):
        if name in constexprs:
            signature[name] = "constexpr"
        elif name in ("on", "off"):
            signature[name] = "fp32"
        elif name == "ids_ptr":
            signature[name] = "*" + TYPES[ids]
        elif name in DATA:
            signature[name] = "*" + TYPES[dtype]
        elif name == "lam_ptr":
            signature[name] = "*fp32"
        elif name.endswith("_ptr"):
            signature[name] = "*i64"
        elif name.startswith(("step", "span")):  # magic numbers, over 2**32
            signature[name] = "i64"
        else:
            signature[name] = "i32"
        signature[name] = (types or {}).get(name, signature[name])
        # torch's allocations are 256-byte aligned; Triton also specializes
        # a sample size divisible by 16 (only `inner` is not exempted)
        if name.endswith("_ptr") or (name in ("inner", "classes") and inner % 16 == 0):
            attrs[(i,)] = [["tt.divisibility", 16]]
    source = ASTSource(fn=kernel, signature=signature, constexprs=constexprs, attrs=attrs)
    return triton.compile(source, target=GPUTarget("cuda", arch, 32),
                          options={"num_warps": warps, **_fast.COMPILE})


def compile_one(kernel: Any, dtype: torch.dtype, inner: int, constexprs: dict[str, Any],
                warps: int, arch: int, ids: torch.dtype = torch.int64,
                types: dict[str, str] | None = None) -> str:
    """:func:`build`, then fail on any register spill or float arithmetic
    ptxas may contract; the PTX."""
    compiled = build(kernel, dtype, inner, constexprs, warps, arch, ids, types)
    where = f"{kernel.fn.__name__} {TYPES[dtype]} {constexprs} warps={warps} sm_{arch}"
    # every float product and sum rounded on its own (".rn"): an unrounded
    # one may be contracted into a fused multiply-add, differently per kernel
    contractible = re.findall(r"^\s*((?:fma|mul|add|sub)\.f(?:16|32|64)\b.*)$",
                              compiled.asm["ptx"], re.MULTILINE)
    if contractible:
        sys.exit(f"contractible float arithmetic in {where}: {contractible[:3]}")
    with tempfile.NamedTemporaryFile("w", suffix=".ptx", delete=False) as f:
        f.write(compiled.asm["ptx"])
    target = re.search(r"^\.target (\w+)", compiled.asm["ptx"], re.MULTILINE)
    assert target is not None
    command = [ptxas(arch), "-v", f"--gpu-name={target[1]}", f.name, "-o", "/dev/null"]
    report = subprocess.run(command, capture_output=True, text=True, check=True).stderr
    Path(f.name).unlink()
    spills = [int(n) for n in re.findall(r"(\d+) bytes spill (?:stores|loads)", report)]
    if any(spills):
        sys.exit(f"register spills in {where}:\n{report}")
    COUNT[0] += 1
    ptx: str = compiled.asm["ptx"]
    return ptx


def columns(batch: int, inner: int, dtype: torch.dtype) -> tuple[int, int, int]:
    """The dispatch's in-place tile for this batch (on a host tensor: the
    choice reads only shapes and addresses)."""
    x = torch.empty((batch, inner), dtype=dtype)
    tile = _fast.columns(x, x)
    assert tile is not None, (batch, inner)
    return tile


def main() -> None:
    tl = _triton.tl
    floats = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
    for arch in ARCHS:
        for dtype in floats:
            cdt = tl.float64 if dtype == torch.float64 else tl.float32
            for inner in (150528, 7):
                block = _fast.block_for(inner)
                compile_one(_triton.blend_kernel, dtype, inner, {"block": block, "cdt": cdt},
                            4, arch)
            for batch in (1, 64, current().cuda_column_rows):
                rows, cols, warps = columns(batch, 150528, dtype)
                compile_one(_triton.blend_columns_kernel, dtype, 150528,
                            {"rows": rows, "cols": cols, "cdt": cdt}, warps, arch)
        for ids in (torch.uint8, torch.int64):
            for classes in (1000, 10):
                compile_one(_triton.ids_kernel, torch.float32, classes,
                            {"block": _fast.block_for(classes)}, 4, arch, ids)
        # the cut axes of a 3x224x224 sample as the dispatch finds them: W;
        # (H, W) of NCHW; (H, W) of channels-last (C innermost: W divides);
        # (C, H, W); (C, W, H), where C and H divide
        cuts = [{"k": len(steps), **_fast.axis_ways(steps, sizes)} for steps, sizes in (
            ([1], [224]), ([224, 1], [224, 224]), ([672, 3], [224, 224]),
            ([50176, 224, 1], [3, 224, 224]), ([50176, 1, 224], [3, 224, 224]))]
        assert [(c["h0"], c["h1"], c["h2"]) for c in cuts] == [
            (1, 0, 0), (2, 1, 0), (2, 0, 0), (2, 2, 1), (0, 1, 0)]
        for dtype in (torch.uint8, torch.float32, torch.int64):
            block = _fast.block_for(150528)
            for cut in cuts:
                compile_one(_triton.paste_kernel, dtype, 150528, {**cut, "block": block}, 4,
                            arch)
            for cut in (cuts[1], cuts[4]):
                for from_partner in (True, False):
                    compile_one(_triton.box_kernel, dtype, 150528,
                                {**cut, "block": block, "from_partner": from_partner}, 4, arch)
                for batch in (3, 64, current().cuda_column_rows):
                    rows, cols, warps = columns(batch, 150528, dtype)
                    compile_one(_triton.paste_columns_kernel, dtype, 150528,
                                {"rows": rows, "cols": cols, **cut}, warps, arch)
        for lam in ("fp32", "fp64"):
            for k in (0, 1, 2):
                draws(arch, lam, k)


def draws(arch: int, lam: str, k: int) -> None:
    """The draws kernel as :func:`arraymix._backends.torch_cuda.fused_draws` launches it,
    with float64 arithmetic that rounds as the array API path's: divisions
    and the square root correctly rounded (``.rn``), log and exp CUDA's
    libdevice functions (torch's, on the GPU), nothing approximated."""
    types = {"gamma_ptr": "*fp64", "exp_ptr": "*fp64", "unit_ptr": "*fp64",
             "keys_ptr": "*fp64", "lam_ptr": f"*{lam}", "lower_ptr": "*i64",
             "upper_ptr": "*i64", "perm_ptr": "*i64", "scale_bits": "i64"}
    # as fused_draws picks the block: ranking partners or not
    for count, rank in ((1, True), (64, True), (64, False), (65536, False)):
        block = _fast.RANK_BLOCK if rank else _fast.draws_block(count)
        ptx = compile_one(_triton.draws_kernel, torch.float64, count,
                          {"k": k, "correct": True, "rank": rank, "block": block,
                           "cols": _fast.RANK_COLS}, 4, arch, types=types)
        where = f"draws_kernel k={k} lam={lam} rank={rank} sm_{arch}"
        # (libdevice's log and exp refine an approximate reciprocal exactly:
        # only Triton's own fast exp2/log2 or approximate divisions and roots
        # would change the values)
        fast = re.findall(r"\b(?:ex2|lg2|div|sqrt|rsqrt)\.(?:approx|full)\S*", ptx)
        if fast:
            sys.exit(f"approximate float arithmetic in {where}: {fast[:3]}")
        needed = ["div.rn.f64"] + (["sqrt.rn.f64"] if k == 2 else [])
        missing = [op for op in needed if op not in ptx]
        if missing:
            sys.exit(f"{where} lacks {missing}")


if __name__ == "__main__":
    main()
    print("ok", COUNT[0])
