"""Where arraymix's device time goes on a CUDA GPU, and what fused kernels would give.

    python bench/gpu_probe.py

Prints (device time per call, from run.py's clock, 64x3x224x224 float32):
the kernels one ``mixup`` call launches (torch profiler), the parts of the
call alone (sampling, blend, labels), and candidate blends checked against
a float64 reference first: torch's gather + lerp (arraymix today), the
same in L2-sized chunks, a fused Triton gather-lerp kernel and a fused
CuPy elementwise kernel.
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import run

import arraymix

SHAPE = (64, 3, 224, 224)


def _median(clock: run._DeviceClock, fn: Any, rounds: int = 15) -> tuple[float, float]:
    dev, host = [], []
    for _ in range(rounds):
        d, h, _ = clock.time(fn)
        dev.append(d)
        host.append(h)
    return statistics.median(dev) * 1e6, statistics.median(host) * 1e6


def _check(name: str, got: Any, ref: np.ndarray) -> None:
    err = float(np.abs(np.asarray(got, dtype=np.float64) - ref).max())
    print(f"  check {name}: max |err| = {err:.2e}", "ok" if err < 1e-5 else "WRONG")


def main() -> None:
    import torch

    torch.manual_seed(0)
    clock = run._DeviceClock()
    x = torch.rand(SHAPE, device="cuda")
    y = torch.randint(0, 1000, (SHAPE[0],), device="cuda")
    gen = torch.Generator(device="cuda").manual_seed(0)
    buf = torch.empty_like(x)
    inner = x[0].numel()

    # 1. the kernels of one call
    try:
        for _ in range(3):
            arraymix.mixup(x, y, num_classes=1000, rng=gen)
        torch.cuda.synchronize()
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            arraymix.mixup(x, y, num_classes=1000, rng=gen)
            torch.cuda.synchronize()
        events = [e for e in prof.events() if str(e.device_type).endswith("CUDA")]

        def took(e: Any) -> float:
            return float(getattr(e, "device_time", None) or getattr(e, "cuda_time", 0.0))

        print(f"kernels in one mixup call: {len(events)}, summed device time "
              f"{sum(took(e) for e in events):.1f} µs")
        for e in events:
            print(f"  {took(e):8.1f} µs  {e.name[:90]}")
    except Exception as e:  # the profiler is optional
        print(f"  profiler: {type(e).__name__}: {e}")

    # 2. the parts alone
    params = arraymix.sample_mixup(gen, SHAPE[0], xp=torch, device=x.device)
    lam, perm = params.lam, params.perm
    w = (1 - lam.to(x.dtype)).reshape(())
    rows = {
        "copy into buffer (floor/1.5)": lambda: buf.copy_(x),
        "sample_mixup (CUDA generator)": lambda: arraymix.sample_mixup(gen, SHAPE[0], xp=torch,
                                                                         device=x.device),
        "blend(x, params)": lambda: arraymix.blend(x, params),
        "blend(x, params, out=x)": lambda: arraymix.blend(x, params, out=x),
        "gather x[perm] alone": lambda: torch.index_select(x, 0, perm),
        "mixup(x, y, rng=gen)": lambda: arraymix.mixup(x, y, num_classes=1000, rng=gen),
        "mixup(x, rng=gen) no labels": lambda: arraymix.mixup(x, rng=gen),
        "one_hot + blend labels": lambda: arraymix.blend(
            arraymix.one_hot(y, 1000), params),
    }
    xf = x.double().cpu().numpy()
    ref = (1 - w.item()) * xf + w.item() * xf[perm.cpu().numpy()]

    # 3. chunked gather + lerp: the gathered chunk stays in L2
    scratch = torch.empty((8, *SHAPE[1:]), device="cuda")

    def chunked() -> Any:
        out = torch.empty_like(x)
        for s in range(0, SHAPE[0], 8):
            torch.index_select(x, 0, perm[s:s + 8], out=scratch)
            torch.lerp(x[s:s + 8], scratch, w, out=out[s:s + 8])
        return out

    _check("chunked", chunked().cpu(), ref)
    rows["chunked gather+lerp (8 samples)"] = chunked

    # 4. a fused Triton kernel: out[i] = x[i] + w_i (x[perm[i]] - x[i])
    try:
        import triton
        import triton.language as tl

        @triton.jit
        def mix_kernel(x_ptr, perm_ptr, w_ptr, out_ptr, inner, block: tl.constexpr):
            s = tl.program_id(0).to(tl.int64)
            offs = tl.program_id(1) * block + tl.arange(0, block)
            mask = offs < inner
            p = tl.load(perm_ptr + s).to(tl.int64)
            wt = tl.load(w_ptr + s)
            a = tl.load(x_ptr + s * inner + offs, mask=mask).to(tl.float32)
            b = tl.load(x_ptr + p * inner + offs, mask=mask).to(tl.float32)
            tl.store(out_ptr + s * inner + offs,
                     (a + wt * (b - a)).to(out_ptr.dtype.element_ty), mask=mask)

        wv = w.expand(SHAPE[0]).contiguous().float()

        def fused(block: int = 2048) -> Any:
            out = torch.empty_like(x)
            mix_kernel[(SHAPE[0], triton.cdiv(inner, block))](x, perm, wv, out, inner, block)
            return out

        _check("triton fused", fused().cpu(), ref)
        rows["triton fused gather-lerp"] = fused
        rows["triton fused, into buffer"] = lambda: mix_kernel[
            (SHAPE[0], triton.cdiv(inner, 2048))](x, perm, wv, buf, inner, 2048)
    except Exception as e:
        print(f"  triton: {type(e).__name__}: {e}")

    # 5. a fused CuPy elementwise kernel
    try:
        import cupy

        cx = cupy.asarray(x)
        cperm = cupy.asarray(perm)
        cw = cupy.asarray(w.expand(SHAPE[0]).contiguous().float())
        kernel = cupy.ElementwiseKernel(
            "raw T x, raw I perm, raw float32 w, int64 inner", "T out",
            "long long s = i / inner; long long j = i - s * inner;"
            "float a = (float)x[i]; float b = (float)x[perm[s] * inner + j];"
            "out = (T)(a + w[s] * (b - a));", "arraymix_mix")
        cbuf = cupy.empty_like(cx)

        def cupy_fused() -> Any:
            out = cupy.empty_like(cx)
            kernel(cx, cperm, cw, inner, out)
            return out

        _check("cupy fused", cupy.asnumpy(cupy_fused()), ref)
        rows["cupy fused elementwise"] = cupy_fused
        rows["cupy fused, into buffer"] = lambda: kernel(cx, cperm, cw, inner, cbuf)
        cp_params = arraymix.MixParams(cupy.asarray(lam), cperm)
        _check("arraymix blend on cupy", cupy.asnumpy(arraymix.blend(cx, cp_params)), ref)
        rows["arraymix blend on cupy"] = lambda: arraymix.blend(cx, cp_params)
        rows["cupy copy into buffer"] = lambda: cupy.copyto(cbuf, cx)
    except Exception as e:
        print(f"  cupy: {type(e).__name__}: {e}")

    _check("arraymix blend", arraymix.blend(x, params).cpu(), ref)
    for fn in rows.values():  # warm-up, compile
        fn()
    torch.cuda.synchronize()
    floor, _ = _median(clock, rows["copy into buffer (floor/1.5)"])
    floor *= 1.5
    print(f"\n3N floor {floor:.1f} µs (device copy x 1.5); device µs per call, host µs per call")
    for name, fn in rows.items():
        dev, host = _median(clock, fn)
        print(f"  {dev:8.1f} µs  {dev / floor:5.2f}× floor   host {host:7.1f} µs   {name}")


if __name__ == "__main__":
    main()
