"""The host loops a CPU tensor's samples share among torch's threads."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import arraymix
from arraymix._backends import tuned
from arraymix._backends.threads import for_runs, threads_for
from reference import random_batch


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 40), threads=st.integers(1, 6))
def test_runs_cover_every_row_once_at_the_same_time(n, threads):
    """Each row in exactly one run, the runs contiguous and as even as can
    be, and all of them under way at once (each waits for the others at a
    barrier, which would time out if a run waited for another's end)."""
    rows = list(range(3, 3 + n))
    count = max(1, min(threads, n))
    runs: list[list[int]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(count, timeout=30)

    def body(run):
        barrier.wait()
        with lock:
            runs.append(list(run))

    for_runs(rows, body, threads)
    assert sorted(r for run in runs for r in run) == rows
    assert len(runs) == count
    assert all(run == list(range(run[0], run[0] + len(run))) for run in runs if run)
    assert max(map(len, runs)) - min(map(len, runs)) <= 1


def test_an_error_in_any_run_is_raised_after_every_run_ended():
    done: list[int] = []

    def body(run):
        if run[0] == 5:
            raise ValueError("run from 5")
        done.extend(run)

    with pytest.raises(ValueError, match="run from 5"):
        for_runs(range(10), body, 2)
    assert done == [0, 1, 2, 3, 4]


_FORKED = """
import multiprocessing, threading
from arraymix._backends.threads import for_runs

def child(queue):
    seen, lock = [], threading.Lock()
    def body(run):
        with lock:
            seen.extend(run)
    for_runs(range(8), body, 2)
    queue.put(sorted(seen))

for_runs(range(8), lambda run: None, 2)  # the parent's threads exist
ctx = multiprocessing.get_context("fork")
queue = ctx.Queue()
process = ctx.Process(target=child, args=(queue,))
process.start()
process.join(60)
assert process.exitcode == 0, process.exitcode
assert queue.get(timeout=5) == list(range(8))
print("ok")
"""


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                    reason="no fork start method on this platform")
def test_a_forked_process_makes_its_own_threads():
    """A DataLoader worker forked after the parent used its threads has none
    of them: the child starts its own instead of waiting on the parent's.
    In a fresh process: forking one that runs JAX's threads is unsafe."""
    done = subprocess.run([sys.executable, "-c", _FORKED], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "ok"


def test_numpy_arrays_stay_on_one_thread():
    assert threads_for(np.zeros((64, 3, 224, 224), np.float32)) == 1


@pytest.fixture
def torch_threads():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    before = torch.get_num_threads()
    torch.set_num_threads(3)  # three runs of uneven length over most batches
    yield torch
    torch.set_num_threads(before)


def test_tensors_follow_torch_threads_above_the_size(torch_threads):
    x = torch_threads.zeros((4, 1000))
    with tuned(thread_min_bytes=0):
        assert threads_for(x) == 3
    with tuned(thread_min_bytes=x.numel() * 4 + 1):
        assert threads_for(x) == 1


@settings(max_examples=25, deadline=None)
@given(method=st.sampled_from(["patchmix", "fmix", "mosaic", "resizemix"]),
       dtype=st.sampled_from(["float32", "uint8", "int16", "float64"]),
       batch=st.integers(1, 9), lam_mode=st.sampled_from(["batch", "sample"]),
       in_place=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_threaded_family_equals_the_reference(torch_threads, method, dtype, batch, lam_mode,
                                              in_place, seed):
    """Patch grids, FMix, Mosaic and ResizeMix on a CPU tensor, its samples
    shared among three threads: bitwise the array API reference's result."""
    torch = torch_threads
    gen = np.random.default_rng(seed)
    x = random_batch(gen, (batch, 2, 8, 12), dtype)
    sizes = (8, 12)
    draw = getattr(arraymix, f"sample_{method}")
    kw = {"patch": 4} if method == "patchmix" else {}
    p = draw(seed, batch, sizes, lam_mode=lam_mode, **kw)
    with tuned(force="reference"):
        want = arraymix.paste(x, p)
    xs = torch.from_numpy(x.copy())
    ps = type(p)(*(torch.from_numpy(v) if isinstance(v, np.ndarray) else v for v in p))
    with tuned(thread_min_bytes=0):
        got = arraymix.paste(xs, ps, out=xs if in_place else None)
    np.testing.assert_array_equal(got.numpy(), want)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), dtype=st.sampled_from(["uint8", "int16", "int32"]),
       per_sample=st.booleans(), mode=st.sampled_from(["in place", "new", "buffer"]),
       piece=st.sampled_from([7, 30, 1 << 16]), seed=st.integers(0, 2**32 - 1))
def test_threaded_integer_walk_equals_the_reference(torch_threads, data, dtype, per_sample,
                                                    mode, piece, seed):
    """Integer CPU tensors walk their cycles on three threads: runs cut
    through cycles (a run's last partner read from a copy made first, in
    place), every permutation (fixed points, one long cycle, many short
    ones), equal to the float32 formula as on one thread."""
    torch = torch_threads
    batch = data.draw(st.integers(1, 20), label="batch")
    perm = np.asarray(data.draw(st.permutations(range(batch)), label="perm"), dtype=np.int64)
    gen = np.random.default_rng(seed)
    xnp = random_batch(gen, (batch, 3, 5, 4), dtype)
    lam = gen.uniform(size=batch if per_sample else ()).astype(np.float32)
    f = xnp.astype(np.float64 if dtype == "int32" else np.float32)
    lam_c = lam.astype(f.dtype).reshape((-1,) + (1,) * 3 if per_sample else ())
    want = np.rint(lam_c * f + (1 - lam_c) * f[perm]).astype(dtype)
    x = torch.from_numpy(xnp.copy())
    params = arraymix.MixParams(lam=torch.from_numpy(lam), perm=torch.from_numpy(perm))
    out = {"in place": x, "new": None, "buffer": torch.zeros_like(x)}[mode]
    with tuned(thread_min_bytes=0, walk_min_sample=1, force="walk", int_piece=piece):
        got = arraymix.blend(x, params, out=out)
    np.testing.assert_array_equal(got.numpy(), want)


@settings(max_examples=20, deadline=None)
@given(batch=st.integers(1, 12), lam_mode=st.sampled_from(["batch", "sample"]),
       prob=st.sampled_from([1.0, 0.6]), seed=st.integers(0, 2**32 - 1))
def test_threaded_collate_equals_stack_then_mix(torch_threads, batch, lam_mode, prob, seed):
    torch = torch_threads
    gen = np.random.default_rng(seed)
    samples = [torch.from_numpy(random_batch(gen, (3, 6, 5), "uint8")) for _ in range(batch)]
    items = [(s, i % 4) for i, s in enumerate(samples)]
    kw = {"num_classes": 4, "seed": seed, "lam_mode": lam_mode, "prob": prob,
          "cutmix_alpha": 0.0}
    with tuned(thread_min_bytes=0, walk_min_sample=1, int_piece=20):
        x, y = arraymix.Mixer(**kw).collate(items)
        x2, y2 = arraymix.Mixer(**kw)(torch.stack(samples), torch.asarray(
            [i % 4 for i in range(batch)]))
    np.testing.assert_array_equal(x.numpy(), x2.numpy())
    np.testing.assert_array_equal(y.numpy(), y2.numpy())


@settings(max_examples=80)
@given(data=st.data(), threads=st.integers(2, 6), reverse=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_runs_in_place_may_go_in_any_order(data, threads, reverse, seed):
    """The in-place runs of the integer walk, one after the other forwards or
    backwards (the two schedules that expose a partner read after another
    run wrote it): equal to the float32 formula."""
    from arraymix._backends import walk

    batch = data.draw(st.integers(1, 16), label="batch")
    order = data.draw(st.permutations(range(batch)), label="perm")
    gen = np.random.default_rng(seed)
    x = random_batch(gen, (batch, 2, 3), "uint8")
    lam = gen.uniform(size=batch).astype(np.float32)
    f = x.astype(np.float32)
    lam_c = lam.reshape(-1, 1, 1)
    want = np.rint(lam_c * f + (1 - lam_c) * f[list(order)]).astype(np.uint8)
    src = [x[i, ...] for i in range(batch)]
    runs, saved = walk.int_runs(src, list(order), threads, True)
    assert sorted(i for run in runs for i, _, _ in run) == list(range(batch))
    om = [np.float32(1) - v for v in lam]
    tmp = np.empty((2, 3), np.float32)
    for run in reversed(runs) if reverse else runs:
        walk.int_run(src, src, list(order), list(lam), om, [], tmp, None, run, saved, True)
    np.testing.assert_array_equal(x, want)
