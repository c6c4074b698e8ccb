"""What only a GPU shows: calls that queue work without waiting for the device,
and torch.compile's own kernels. Each test skips, with its reason, where
there is no CUDA device; the backend-fixture tests cover values on the GPU.
"""

from __future__ import annotations

import contextlib
import functools

import numpy as np
import pytest

import arraymix


def _cuda_torch():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    if not torch.cuda.is_available():
        pytest.skip("torch has no CUDA device here")
    return torch


def _calls(torch, x, y, rng):
    """Every public way of mixing a batch, each with rng."""
    buf = torch.empty_like(x)
    return {
        "mixup": lambda: arraymix.mixup(x, y, num_classes=10, rng=rng),
        "mixup per sample": lambda: arraymix.mixup(x, y, num_classes=10, lam_mode="sample",
                                                   rng=rng),
        "mixup out=buffer": lambda: arraymix.mixup(x, y, num_classes=10, rng=rng, out=buf),
        "mixup in place": lambda: arraymix.mixup(buf, y, num_classes=10, rng=rng, out=buf),
        "mixup groups": lambda: arraymix.mixup(x, y, num_classes=10, groups=2, rng=rng),
        "cutmix": lambda: arraymix.cutmix(x, y, num_classes=10, rng=rng),
        "cutmix per sample": lambda: arraymix.cutmix(x, y, num_classes=10, lam_mode="sample",
                                                     rng=rng),
        "cutmix in place": lambda: arraymix.cutmix(buf, y, num_classes=10, rng=rng, out=buf),
        "cutmix minmax": lambda: arraymix.cutmix(x, y, num_classes=10, minmax=(0.2, 0.8),
                                                 rng=rng),
        "cutmix minmax per sample": lambda: arraymix.cutmix(
            x, y, num_classes=10, minmax=(0.2, 0.8), lam_mode="sample", rng=rng),
        "mixup per pair": lambda: arraymix.mixup(x, y, num_classes=10, lam_mode="pair",
                                                 pairing="flip", rng=rng),
        "cutmix per pair": lambda: arraymix.cutmix(x, y, num_classes=10, lam_mode="pair",
                                                   pairing="flip", rng=rng),
    }


@pytest.mark.filterwarnings("ignore:Synchronization debug mode is a prototype")
@pytest.mark.parametrize("rng_kind", ["torch.Generator on the GPU", "int seed",
                                      "numpy Generator"])
def test_cuda_calls_queue_without_a_device_sync(rng_kind):
    """No call waits for the GPU: torch raises on any sync in "error" mode.

    Parameters drawn on the host (int seeds, NumPy generators, the Mixer)
    travel as queued copies, so they cost no stall either.
    """
    torch = _cuda_torch()
    x = torch.rand(8, 3, 16, 16, device="cuda")
    y = torch.randint(0, 10, (8,), device="cuda")
    rng = {"torch.Generator on the GPU": torch.Generator(device="cuda").manual_seed(0),
           "int seed": 3, "numpy Generator": np.random.default_rng(0)}[rng_kind]
    calls = _calls(torch, x, y, rng)
    mixers = [arraymix.Mixer(num_classes=10, seed=1, lam_mode=mode, cutmix_minmax=minmax,
                             pairing="flip")
              for mode in ("batch", "sample", "pair") for minmax in (None, (0.2, 0.8))]
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for name, call in calls.items():
            xm, ym = call()
            assert xm.device == x.device, name
            assert ym.device == x.device, name
        for mixer in mixers:
            xm, ym = mixer(x, y)
            assert xm.device == x.device
            assert ym.device == x.device
    finally:
        torch.cuda.set_sync_debug_mode("default")


def test_cuda_result_equals_the_host_result_for_one_seed():
    """An int seed mixes a CUDA batch as it mixes the same batch on the CPU."""
    torch = _cuda_torch()
    x = torch.rand(6, 3, 8, 8, dtype=torch.float64)
    y = torch.randint(0, 5, (6,))
    minmax = functools.partial(arraymix.cutmix, minmax=(0.2, 0.8))
    for fn in (arraymix.mixup, arraymix.cutmix, minmax):
        for mode in ("batch", "sample", "pair"):
            kw = {"lam_mode": mode, "pairing": "flip" if mode == "pair" else "permute"}
            host = fn(x, y, num_classes=5, rng=11, **kw)
            gpu = fn(x.cuda(), y.cuda(), num_classes=5, rng=11, **kw)
            for a, b in zip(host, gpu, strict=True):
                torch.testing.assert_close(b.cpu(), a, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [(1, 5), (3, 7, 9), (64, 3, 224, 224), (300, 3, 32, 32),
                                   (512, 3, 16, 16), (600, 3, 8, 8)])
def test_cuda_in_place_equals_out_of_place_without_a_batch_of_scratch(shape):
    """In place, the fused kernels give the out-of-place result bitwise, and a
    batch that fits a column tile (up to 512 samples) takes no scratch batch.

    Many programs run at once here, so a partner overwritten before it is
    read would show as a difference; 600 samples take the scratch way.
    """
    torch = _cuda_torch()
    gen = torch.Generator(device="cuda").manual_seed(shape[0])
    axes = tuple(range(2, len(shape))) or (1,)
    for dtype in (torch.float32, torch.bfloat16):
        x = torch.randn(shape, device="cuda", generator=gen).to(dtype)
        for mode in ("batch", "sample"):
            mix = arraymix.sample_mixup(gen, shape[0], lam_mode=mode, xp=torch,
                                        device=x.device)
            cut = arraymix.sample_cutmix(gen, shape[0], [shape[a] for a in axes],
                                         lam_mode=mode, xp=torch, device=x.device)
            calls = {"blend": lambda a, out, mix=mix: arraymix.blend(a, mix, out=out),
                     "paste": lambda a, out, cut=cut: arraymix.paste(a, cut, axes=axes,
                                                                     out=out)}
            for name, call in calls.items():
                want = call(x, None)
                same = x.clone()
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
                before = torch.cuda.memory_allocated()
                assert call(same, same) is same
                extra = torch.cuda.max_memory_allocated() - before
                assert torch.equal(same, want), (name, mode, dtype)
                if shape[0] <= 512 and x.nbytes >= 2**20:
                    assert extra < x.nbytes // 4, (name, mode, extra)


@pytest.mark.parametrize("groups", [1, 8])
@pytest.mark.parametrize("lam_mode", ["batch", "sample"])
@pytest.mark.parametrize("sizes", [(), (1000,), (224, 224), (7, 3)])
def test_cuda_generator_draws_in_one_kernel_equal_torch_ops(lam_mode, sizes, groups):
    """From one CUDA generator state, the draws kernel gives the parameters
    torch's operations give on the same draws: the same partners (a stable
    argsort of the same keys) and boxes, λ within an ulp of float32
    (libdevice's exp and log in both; the softmax may round once
    differently)."""
    torch = _cuda_torch()
    from arraymix._backends import routed, torch_cuda

    if torch_cuda.triton_kernels() is None:
        pytest.skip("triton is not installed")
    gen = torch.Generator(device="cuda").manual_seed(len(sizes))
    got = {}
    for fused in (True, False):
        state = gen.get_state()
        # without the kernels: CUDA tensors take the generic torch backend, as on meta
        with contextlib.nullcontext() if fused else routed("cuda", "meta"):
            if sizes:
                got[fused] = arraymix.sample_cutmix(gen, 4096, sizes, lam_mode=lam_mode,
                                                    alpha=0.3, groups=groups)
            else:
                got[fused] = arraymix.sample_mixup(gen, 4096, lam_mode=lam_mode, alpha=0.3,
                                                   groups=groups)
        gen.set_state(state)
    one, other = got[True], got[False]
    assert one.lam.dtype == other.lam.dtype == torch.float32
    torch.testing.assert_close(one.lam, other.lam, rtol=2.0**-23, atol=2.0**-24)
    assert torch.equal(one.perm, other.perm)
    if sizes:
        assert one.lower.dtype == other.lower.dtype == torch.int64
        assert torch.equal(one.lower, other.lower)
        assert torch.equal(one.upper, other.upper)


@pytest.mark.filterwarnings("ignore:Dynamo detected a call to a `functools.lru_cache`")
@pytest.mark.filterwarnings("ignore:TensorFloat32 tensor cores")
# torch's own modules, imported by inductor, use what torch deprecates
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_torch_compile_inductor_cuda():
    """blend and paste compile into one graph of generated CUDA kernels."""
    torch = _cuda_torch()
    torch._dynamo.reset()

    def step(x, mix, cut):
        return arraymix.blend(x, mix), arraymix.paste(x, cut, axes=(-2, -1))

    compiled = torch.compile(step, fullgraph=True)
    gen = torch.Generator(device="cuda").manual_seed(0)
    for dtype in (torch.float32, torch.bfloat16):
        x = torch.randn(16, 3, 32, 32, device="cuda").to(dtype)
        mix = arraymix.sample_mixup(gen, 16, lam_mode="sample", xp=torch, device=x.device)
        cut = arraymix.sample_cutmix(gen, 16, (32, 32), xp=torch, device=x.device)
        got, expected = compiled(x, mix, cut), step(x, mix, cut)
        for a in got:
            assert a.dtype == dtype
            assert a.device == x.device
        # the paste moves values: equal; the blend's generated kernel keeps
        # 1 − λ in float32 where eager rounds it to bfloat16 first, an error
        # of up to 2**-9 of a partner's value (large beside a result near 0)
        assert torch.equal(got[1], expected[1])
        scale = float(x.abs().max())
        ulps = 4 * 2.0**-23 if dtype == torch.float32 else 2.0**-7
        torch.testing.assert_close(got[0], expected[0], rtol=0, atol=ulps * scale)


# CuPy says its detection is best effort and will go; it is what there is
@pytest.mark.filterwarnings("ignore:cupyx.allow_synchronize will be removed")
def test_cupy_calls_do_not_synchronize():
    """On CuPy the host-drawn parameters are queued copies: no call synchronizes."""
    cp = pytest.importorskip("cupy", reason="cupy is not installed")
    try:
        cp.cuda.runtime.getDeviceCount()
    except Exception:
        pytest.skip("cupy has no CUDA device here")
    import cupyx

    if not hasattr(cupyx, "allow_synchronize"):
        pytest.skip("this CuPy has no cupyx.allow_synchronize")
    x = cp.random.rand(8, 3, 16, 16).astype(cp.float32)
    y = cp.arange(8) % 10
    results = []
    with cupyx.allow_synchronize(False):
        for mode in ("batch", "sample"):
            results.append(arraymix.mixup(x, y, num_classes=10, lam_mode=mode, rng=1))
            results.append(arraymix.cutmix(x, y, num_classes=10, lam_mode=mode, rng=1))
    for xm, ym in results:
        assert isinstance(xm, cp.ndarray)
        assert xm.dtype == x.dtype
        assert isinstance(ym, cp.ndarray)
        assert ym.shape == (8, 10)
