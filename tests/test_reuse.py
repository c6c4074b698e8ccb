"""New host batches reuse memory that dropped results gave back (see
arraymix._backends.reuse), and never memory an array still uses."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import arraymix
from arraymix._backends.reuse import host_empty
from arraymix._backends.tuning import tuned
from reference import ref_blend

ROOT = Path(__file__).parent.parent
SHAPE = (8, 3, 256, 256)  # 6 MiB in float32: above the 4 MiB from which memory is kept
NBYTES = 4 * int(np.prod(SHAPE))


def _host(backend) -> None:
    if backend.name not in ("numpy", "torch-cpu"):
        pytest.skip(f"{backend.name} allocates its arrays itself, not in host memory")


def _data(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random(SHAPE, dtype=np.float32)


@pytest.fixture(autouse=True)
def _empty_pool():
    gc.collect()
    arraymix.release_memory()
    yield
    gc.collect()
    arraymix.release_memory()


def test_a_dropped_result_is_kept_and_handed_to_the_next(backend):
    _host(backend)
    x = backend.asarray(_data(0))
    out, _ = arraymix.mixup(x, rng=1)
    assert arraymix.release_memory() == 0  # in use: nothing to give back
    del out
    gc.collect()
    assert arraymix.release_memory() == NBYTES  # kept, and free
    assert arraymix.release_memory() == 0
    # the next result reuses it, and is right whatever the block held
    out, _ = arraymix.mixup(x, rng=1)
    del out
    p = arraymix.sample_mixup(2, SHAPE[0])
    out, _ = arraymix.mixup(x, rng=2)
    np.testing.assert_allclose(backend.numpy(out), ref_blend(_data(0), p.lam, p.perm),
                               rtol=0, atol=1e-6)


def _holders(backend):
    """Ways a caller keeps a result's memory without the result itself."""
    if backend.name == "torch-cpu":
        import torch

        return lambda a: {
            "a view": a[1:5], "a reshape": a.reshape(-1), "a transpose": a.mT,
            ".numpy()": a.numpy()[2], "torch.as_strided": a.as_strided((4,), (1,)),
            "a DLPack capsule's tensor": torch.from_dlpack(a)[3]}

    def numpy_ones(a):
        held = {"a view": a[1:5], "a reshape": a.reshape(-1), "a transpose": a.T,
                "np.asarray": np.asarray(a)[2], "a memoryview": memoryview(a[3])}
        try:
            import torch
        except ImportError:
            return held
        return {**held, "torch.from_numpy": torch.from_numpy(a)[1]}
    return numpy_ones


def _values(held) -> np.ndarray:
    if isinstance(held, (np.ndarray, memoryview)):
        return np.array(held)
    return np.array(held.numpy())  # a tensor


@pytest.mark.parametrize("kind", ["mixup", "cutmix", "fmix", "mosaic"])
def test_memory_in_use_is_never_handed_out(backend, kind):
    _host(backend)
    x = backend.asarray(_data(0))
    fn = getattr(arraymix, kind)
    first, _ = fn(x, rng=1)
    holders = _holders(backend)(first)
    expected = {name: _values(h).copy() for name, h in holders.items()}
    del first
    gc.collect()
    results = []
    for seed in range(2, 8):  # more results than blocks of a size are kept
        out, _ = fn(x, rng=seed)
        if seed % 2:
            results.append(out)  # some kept alive, some dropped
        del out
    for name, held in holders.items():
        np.testing.assert_array_equal(_values(held), expected[name], err_msg=name)


def test_threads_never_share_a_block(backend):
    """Threads asking at once each get memory of their own: CutMix copies a
    constant batch to itself, so any write by another thread would show."""
    _host(backend)
    errors: list[str] = []
    start = threading.Barrier(4)

    def work(value: float) -> None:
        x = backend.asarray(np.full(SHAPE, value, dtype=np.float32))
        start.wait()
        for seed in range(12):
            out, _ = arraymix.cutmix(x, rng=seed)
            for _ in range(3):
                arraymix.cutmix(x, rng=seed)  # dropped at once: freed blocks to take
            got = backend.numpy(out)
            if not np.all(got == value):
                errors.append(f"thread {value}: {np.unique(got)[:5]}")
            del out

    threads = [threading.Thread(target=work, args=(float(v),)) for v in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.sampled_from([4, 5, 6, 8]), min_size=1, max_size=12),
       keep=st.lists(st.booleans(), min_size=12, max_size=12),
       per_size=st.integers(1, 3), max_mib=st.integers(4, 24))
def test_the_kept_memory_stays_within_its_bounds(sizes, keep, per_size, max_mib):
    """Whatever the sizes asked for and the results kept, the pool holds no
    more than its bounds, and every live result keeps its values."""
    gc.collect()
    arraymix.release_memory()
    live: list[tuple[np.ndarray, float]] = []
    with tuned(reuse_per_size=per_size, reuse_max_bytes=max_mib << 20):
        for k, (mib, held) in enumerate(zip(sizes, keep, strict=False)):
            a = host_empty((mib << 18,), np.float32)  # mib MiB
            a.fill(k)
            if held:
                live.append((a, float(k)))
            del a
        from arraymix._backends import reuse
        pool = reuse._POOL[0]
        assert pool.kept <= max_mib << 20
        assert pool.kept == sum(b.size for bs in pool.blocks.values() for b in bs)
        assert all(len(bs) <= per_size for bs in pool.blocks.values())
    assert all(np.all(a == value) for a, value in live)
    del live
    gc.collect()
    arraymix.release_memory()


def test_layouts_and_dtypes_the_blocks_cannot_hold_are_made_as_before(backend):
    _host(backend)
    data = _data(0)
    if backend.name == "numpy":
        x = np.asfortranarray(data)
        out, _ = arraymix.mixup(x, rng=1)
        assert out.flags.f_contiguous  # np.empty_like keeps the order
    else:
        import torch
        x = torch.from_numpy(data).to(memory_format=torch.channels_last)
        out, _ = arraymix.mixup(x, rng=1)
        assert out.is_contiguous(memory_format=torch.channels_last)
        b, _ = arraymix.mixup(torch.from_numpy(data).to(torch.bfloat16), rng=1)
        b.resize_(2 * b.numel())  # torch's own memory: resizable
    p = arraymix.sample_mixup(1, SHAPE[0])
    np.testing.assert_allclose(backend.numpy(out), ref_blend(data, p.lam, p.perm),
                               rtol=0, atol=1e-6)
    del out
    gc.collect()
    assert arraymix.release_memory() == 0  # nothing was kept for them


def _run(code: str, *args: str, **env: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          cwd=ROOT, env=dict(os.environ, **env), timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_the_switch_keeps_nothing():
    # a new process: the switch is read once per process
    code = ("import gc, numpy as np, arraymix;"
            "x = np.ones((8, 3, 256, 256), np.float32);"
            "out, _ = arraymix.cutmix(x, rng=0); del out; gc.collect();"
            "print(arraymix.release_memory())")
    assert _run(code, ARRAYMIX_REUSE_MEMORY="0") == ["0"]
    assert _run(code, ARRAYMIX_REUSE_MEMORY="1") == [str(NBYTES)]


_FORKED = """
import gc, multiprocessing, sys
import numpy as np
import arraymix
sys.path.insert(0, "tests")
from reference import ref_paste

torch = None
if sys.argv[1] == "torch-cpu":
    import torch
data = np.random.default_rng(0).random((8, 3, 256, 256), dtype=np.float32)
x = data if torch is None else torch.from_numpy(data)

def sums(seed):
    if torch is not None:
        torch.set_num_threads(1)  # as a DataLoader worker does: torch's pool does not fork
    for other in (5, 6):
        arraymix.cutmix(x, rng=other)  # dropped: the child's own blocks, reused
    out, _ = arraymix.cutmix(x, rng=seed)
    return np.asarray(out).astype(np.float64).sum(axis=(1, 2, 3))

held, _ = arraymix.cutmix(x, rng=1)
dropped, _ = arraymix.cutmix(x, rng=2)
del dropped
gc.collect()
with multiprocessing.get_context("fork").Pool(1) as pool:
    got = pool.apply(sums, (3,))
q = arraymix.sample_cutmix(3, 8, (256, 256))
print(np.allclose(got, ref_paste(data, q.perm, q.lower, q.upper, (2, 3)).sum(axis=(1, 2, 3)),
                  rtol=1e-5))
q = arraymix.sample_cutmix(1, 8, (256, 256))
print(np.array_equal(np.asarray(held), ref_paste(data, q.perm, q.lower, q.upper, (2, 3))))
"""


def test_a_forked_child_starts_a_pool_of_its_own(backend):
    """A DataLoader worker is a fork: its results are its own, whatever the
    parent held or kept when it forked (a new process: forking this one,
    with JAX's threads, is unsafe)."""
    _host(backend)
    if sys.platform != "linux":
        pytest.skip("fork is the default start method on Linux only")
    assert _run(_FORKED, backend.name, ARRAYMIX_REUSE_MEMORY="1") == ["True", "True"]
