"""The fused collate: ``Mixer.collate`` and ``collate`` write the batch that
stacking and mixing give, from host samples of NumPy or torch, and refuse
the rest before any work."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import arraymix
from arraymix._backends.tuning import tuned
from reference import ref_blend, ref_one_hot, ref_paste

HOST = ("numpy", "torch-cpu")
DTYPES = ("uint8", "int16", "float16", "float32", "float64")
KINDS = {
    "mixup": {"mixup_alpha": 1.0, "cutmix_alpha": 0.0},
    "cutmix": {"mixup_alpha": 0.0, "cutmix_alpha": 1.0},
    "switch": {"mixup_alpha": 0.4, "cutmix_alpha": 1.0, "prob": 0.8},
}


def samples_of(backend, gen, batch, shape, dtype):
    raw = gen.random((batch, *shape)) * (200 if dtype in ("uint8", "int16") else 2) - (
        0 if dtype == "uint8" else 1)
    return [backend.asarray(np.round(a) if dtype in ("uint8", "int16") else a, dtype)
            for a in raw]


def stack(backend, samples):
    return backend.xp.stack(samples)


def test_collate_takes_host_samples_only(backend):
    """NumPy and CPU torch collate; every other library is refused by name."""
    samples = [backend.asarray(np.zeros((2, 3, 3))) for _ in range(2)]
    p = arraymix.sample_mixup(0, 2)
    if backend.name in HOST:
        assert arraymix.collate(samples, p).shape == (2, 2, 3, 3)
        return
    with pytest.raises(TypeError, match="host memory"):
        arraymix.collate(samples, p)


@settings(max_examples=40)
@given(data=st.data(), dtype=st.sampled_from(DTYPES), kind=st.sampled_from(list(KINDS)),
       lam_mode=st.sampled_from(["batch", "sample"]), batch=st.integers(1, 7),
       seed=st.integers(0, 2**32 - 1), layout=st.sampled_from(["chw", "hwc"]),
       big=st.booleans(), labels=st.sampled_from(["ids", "rows", "none"]))
def test_mixer_collate_is_stack_then_mixer(backend, data, dtype, kind, lam_mode, batch, seed,
                                           layout, big, labels):
    if backend.name not in HOST:
        pytest.skip(f"{backend.name}: the collate takes host samples (NumPy, CPU torch)")
    gen = np.random.default_rng(seed)
    side = 40 if big else 5  # large samples take the walk's pieces, small ones not
    shape, axes = ((3, side, side + 1), (-2, -1)) if layout == "chw" else (
        (side, side + 1, 3), (1, 2))
    samples = samples_of(backend, gen, batch, shape, dtype)
    ids = gen.integers(0, 4, size=batch)
    rows = gen.dirichlet(np.ones(4), size=batch).astype(np.float32)
    if labels == "ids":
        items = [(s, int(i)) for s, i in zip(samples, ids, strict=True)]
        y = backend.asarray(ids)
    elif labels == "rows":
        items = [(s, backend.asarray(r)) for s, r in zip(samples, rows, strict=True)]
        y = backend.asarray(rows)
    else:
        items, y = samples, None
    # groups that divide the batch, and union targets, as the Mixer takes them
    groups = data.draw(st.sampled_from([None, *(g for g in (2, 3) if batch % g == 0)]))
    settings_ = dict(KINDS[kind], lam_mode=lam_mode, cutmix_axes=axes, seed=seed,
                     num_classes=4, label_smoothing=data.draw(st.sampled_from([0.0, 0.1])),
                     groups=groups, union=data.draw(st.booleans()),
                     pairing=data.draw(st.sampled_from(["permute", "flip", "roll"])))
    # pieces of a few hundred elements: large samples are cut as the walk cuts them
    with tuned(piece=300 if big else 1 << 15, int_piece=300 if big else 1 << 16):
        x, t = arraymix.Mixer(**settings_).collate(items)
        x2, t2 = arraymix.Mixer(**settings_)(stack(backend, samples), y)
    assert type(x) is type(x2)
    assert x.dtype == x2.dtype
    assert tuple(x.shape) == tuple(x2.shape)
    np.testing.assert_array_equal(backend.numpy(x), backend.numpy(x2))
    if y is None:
        assert t is None
        assert t2 is None
    else:
        np.testing.assert_array_equal(backend.numpy(t), backend.numpy(t2))


@settings(max_examples=30)
@given(dtype=st.sampled_from(["uint8", "float32", "float64"]),
       params=st.sampled_from(["mixup", "mixup-sample", "cutmix", "cutmix-sample", "mixer"]),
       batch=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_collate_against_the_float64_reference(backend, dtype, params, batch, seed):
    if backend.name not in HOST:
        pytest.skip(f"{backend.name}: the collate takes host samples (NumPy, CPU torch)")
    gen = np.random.default_rng(seed)
    samples = samples_of(backend, gen, batch, (2, 6, 7), dtype)
    host = np.stack([backend.numpy(s) for s in samples]).astype(np.float64)
    src = gen.integers(0, 2**31)
    if params.startswith("mixup"):
        p = arraymix.sample_mixup(src, batch, alpha=1.0, lam_mode=params[6:] or "batch")
        method, lam = np.ones(batch, int), np.broadcast_to(np.asarray(p.lam), (batch,))
        lower = upper = np.zeros((batch, 2), int)
    elif params.startswith("cutmix"):
        p = arraymix.sample_cutmix(src, batch, (6, 7), lam_mode=params[7:] or "batch")
        method, lam = np.full(batch, 2), np.ones(batch)
        lower, upper = (np.broadcast_to(np.asarray(b), (batch, 2)) for b in (p.lower, p.upper))
    else:
        p = arraymix.Mixer(lam_mode="sample", prob=0.7, seed=int(src)).draw(batch, (6, 7))
        method, lam = np.asarray(p.method), np.asarray(p.blend_lam)
        lower, upper = np.asarray(p.lower), np.asarray(p.upper)
    perm = np.asarray(p.perm)
    want = np.where((method == 1)[:, None, None, None], ref_blend(host, lam, perm), host)
    pasted = ref_paste(host, perm, lower, upper, (-2, -1))
    want = np.where((method == 2)[:, None, None, None], pasted, want)
    got = backend.numpy(arraymix.collate(samples, p))
    if dtype == "uint8":  # the reference's roundings, then to the nearest integer
        assert np.abs(got.astype(np.float64) - want).max() <= 0.5 + 1e-4
    else:
        tol = 2e-7 if dtype == "float32" else 1e-15
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_labels_follow_the_draw():
    """Targets against the one-hot reference, from the twin's draw."""
    gen = np.random.default_rng(1)
    samples = [gen.random((3, 8, 8)).astype(np.float32) for _ in range(6)]
    ids = gen.integers(0, 5, size=6)
    mixer = arraymix.Mixer(num_classes=5, label_smoothing=0.1, lam_mode="sample", seed=3)
    twin = arraymix.Mixer(num_classes=5, label_smoothing=0.1, lam_mode="sample", seed=3)
    _, y = mixer.collate(list(zip(samples, ids.tolist(), strict=True)))
    p = twin.draw(6, (8, 8))
    want = ref_blend(ref_one_hot(ids, 5, 0.1), np.asarray(p.lam), np.asarray(p.perm))
    np.testing.assert_allclose(y, want, atol=1e-6)


ROOT = Path(__file__).resolve().parents[1]


def _batches(context: str, seed: int, compiled: bool = False) -> list[list[float]]:
    """In a fresh process (forking a process that runs JAX's threads is unsafe)."""
    code = ("import json, sys, warnings; sys.path.insert(0, sys.argv[1]); "
            "warnings.filterwarnings('ignore', 'This DataLoader will create'); "
            "import loader_helpers as h; print(json.dumps(h.run_collate(sys.argv[2], "
            "int(sys.argv[3]), sys.argv[4] == 'compiled')))")
    done = subprocess.run([sys.executable, "-c", code, str(ROOT / "tests" / "scripts"),
                           context, str(seed), "compiled" if compiled else "eager"],
                          capture_output=True, text=True, timeout=600, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    batches: list[list[float]] = json.loads(done.stdout.strip().splitlines()[-1])
    return batches


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_as_a_dataloaders_collate_fn_reproducibly(context):
    pytest.importorskip("torch", reason="torch is not installed")
    first, again, other = (_batches(context, s) for s in (7, 7, 8))
    assert len(first) == 8
    assert again == first  # the same seed, the same batches
    assert other != first
    # every batch holds the same 16 samples, split over two workers with
    # streams of their own: no two batches are mixed alike
    assert len({tuple(b) for b in first}) == 8


def _compiler():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    if shutil.which("g++") is None:
        pytest.skip("torch.compile's CPU code needs a C++ compiler (g++)")
    return torch


@settings(max_examples=25)
@given(dtype=st.sampled_from(["uint8", "int16"]), kind=st.sampled_from(list(KINDS)),
       lam_mode=st.sampled_from(["batch", "sample"]), seed=st.integers(0, 2**32 - 1),
       labels=st.booleans(), layout=st.sampled_from(["chw", "hwc"]))
def test_compiled_collate_is_the_eager_collate(backend, dtype, kind, lam_mode, seed, labels,
                                               layout):
    """compiled=True gives the eager collate's batch and labels, bitwise, for
    MixUp, CutMix and the switch (one shape: each new one compiles)."""
    if backend.name not in HOST:
        pytest.skip(f"{backend.name}: the collate takes host samples (NumPy, CPU torch)")
    _compiler()
    gen = np.random.default_rng(seed)
    info = np.iinfo(dtype)
    shape, axes = ((3, 6, 7), (-2, -1)) if layout == "chw" else ((6, 7, 3), (1, 2))
    samples = [backend.asarray(a, dtype) for a in
               gen.integers(info.min, info.max, (8, *shape), endpoint=True, dtype=dtype)]
    ids = gen.integers(0, 4, size=8).tolist()
    items = list(zip(samples, ids, strict=True)) if labels else samples
    kw = dict(KINDS[kind], lam_mode=lam_mode, seed=seed, num_classes=4, cutmix_axes=axes)
    with tuned(walk_min_sample=1):  # not the small batch's path, which compiles nothing
        x, t = arraymix.Mixer(**kw).collate(items, compiled=True)
        x2, t2 = arraymix.Mixer(**kw).collate(items)
    assert type(x) is type(x2)
    assert x.dtype == x2.dtype
    np.testing.assert_array_equal(backend.numpy(x), backend.numpy(x2))
    if labels:
        np.testing.assert_array_equal(backend.numpy(t), backend.numpy(t2))
    else:
        assert t is None


def test_compiled_blend_is_the_float32_formula_on_every_uint8_pair(backend):
    """Every pair of uint8 values at 200 weights: ``round(λ·a + (1 − λ)·b)``
    with each product and the sum rounded to float32 (the reference's
    arithmetic), computed here by NumPy."""
    if backend.name not in HOST:
        pytest.skip(f"{backend.name}: the collate takes host samples (NumPy, CPU torch)")
    _compiler()
    a = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 256, axis=1)
    samples = [a, a.T.copy()] * 100  # each pair of samples swaps values: all 65,536 pairs
    perm = np.arange(200).reshape(100, 2)[:, ::-1].reshape(-1)
    lam = np.random.default_rng(0).random(200)
    lam[:4] = [0.0, 1.0, 0.5, 0.25]
    p = arraymix.MixParams(backend.asarray(lam, "float64"), backend.asarray(perm, "int64"))
    x = arraymix.collate([backend.asarray(s) for s in samples], p, compiled=True)
    batch = np.stack(samples).astype(np.float32)
    lam32 = lam.astype(np.float32)[:, None, None]
    want = np.rint(lam32 * batch + (np.float32(1) - lam32) * batch[perm]).astype(np.uint8)
    np.testing.assert_array_equal(backend.numpy(x), want)


INTEGERS = ("uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64")


def test_compiled_collate_takes_every_integer_dtype_and_size(backend):
    """Every integer dtype and several batch and sample sizes in one process
    (more than torch's limit of recompilations of one function, past which
    the same operations run eagerly): the eager collate's batches, 64-bit
    values past 2**53 too (samples not blended are copied, not blended with
    λ = 1 through float64)."""
    if backend.name not in HOST:
        pytest.skip(f"{backend.name}: the collate takes host samples (NumPy, CPU torch)")
    _compiler()
    gen = np.random.default_rng(4)
    for dtype in INTEGERS:
        info = np.iinfo(dtype)
        for batch, shape in ((5, (3, 4, 5)), (1, (2, 3, 3)), (9, (1, 7, 2))):
            samples = [backend.asarray(a, dtype) for a in
                       gen.integers(info.min, info.max, (batch, *shape), endpoint=True,
                                    dtype=dtype)]
            kw = {"mixup_alpha": 1.0, "cutmix_alpha": 1.0, "lam_mode": "sample", "seed": 6}
            with tuned(walk_min_sample=1):
                x, _ = arraymix.Mixer(**kw).collate(samples, compiled=True)
                x2, _ = arraymix.Mixer(**kw).collate(samples)
            assert x.dtype == x2.dtype
            np.testing.assert_array_equal(backend.numpy(x), backend.numpy(x2),
                                          err_msg=f"{dtype} {batch}x{shape}")


def test_compiled_without_torch_is_an_import_error():
    code = ("import sys; sys.modules['torch'] = None; import numpy as np, arraymix; "
            "s = [np.zeros((3, 4, 4), np.uint8)] * 2\n"
            "try:\n    arraymix.collate(s, arraymix.sample_mixup(0, 2), compiled=True)\n"
            "except ImportError as e:\n    print('refused:', e)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "refused: compiled=True compiles the blend with torch.compile" in done.stdout


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_compiled_collate_in_a_dataloader_gives_the_eager_batches(context):
    """compiled=True in the workers (each compiles, or shares its parent's):
    the batches of the eager collate for the same seed."""
    _compiler()
    assert _batches(context, 7, compiled=True) == _batches(context, 7)


def _items(n=4, shape=(3, 4, 4), dtype=np.float32):
    return [(np.zeros(shape, dtype), 0) for _ in range(n)]


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda m: m.collate([]), ValueError, "at least one"),
    (lambda m: m.collate(np.zeros((4, 3, 4, 4))), TypeError, "list"),
    (lambda m: m.collate([*_items(3), (np.zeros((3, 4, 5), np.float32), 0)]), ValueError,
     "one shape and dtype"),
    (lambda m: m.collate([*_items(3), (np.zeros((3, 4, 4), np.float64), 0)]), ValueError,
     "one shape and dtype"),
    (lambda m: m.collate([*_items(3), ([[0.0]], 0)]), TypeError, "one library"),
    (lambda m: m.collate([*_items(3), (np.zeros((3, 4, 4), np.float32),)]), ValueError,
     "pair"),
    (lambda m: m.collate([*_items(3), (np.zeros((3, 4, 4), np.float32), np.zeros(2))]),
     TypeError, "label 3"),
    (lambda m: m.collate([(np.zeros((3, 4, 4), np.float32), 12)] * 4), ValueError,
     "num_classes|class"),
    (lambda m: m.collate([(np.zeros((8, 8, 3), np.float32), 0)] * 4), ValueError,
     "channels-last"),
    (lambda m: m.collate(_items(), compiled=1), TypeError, "compiled must be a bool"),
    (lambda m: arraymix.collate([s for s, _ in _items()], arraymix.sample_mixup(0, 4),
                                compiled="yes"), TypeError, "compiled must be a bool"),
])
def test_bad_input_is_named_before_any_draw(call, error, match):
    mixer = arraymix.Mixer(num_classes=10, seed=0)
    with pytest.raises(error, match=match):
        call(mixer)
    # nothing was drawn: the next call is a fresh twin's first (samples that
    # differ, so that another draw would mix them otherwise)
    good = [(np.full((3, 4, 4), i, np.float32), 0) for i in range(4)]
    x, _ = mixer.collate(good)
    x2, _ = arraymix.Mixer(num_classes=10, seed=0)(np.stack([s for s, _ in good]),
                                                  np.zeros(4, dtype=np.int64))
    np.testing.assert_array_equal(x, x2)
    assert not np.array_equal(x, np.stack([s for s, _ in good]))


@pytest.mark.parametrize(("params", "match"), [
    ("perm", "params.perm must have shape"),
    ("repeat", "permutation"),
    ("type", "MixParams, CutMixParams or MixerParams"),
])
def test_bad_params_are_named(params, match):
    samples = [np.zeros((2, 3, 3), np.float32) for _ in range(3)]
    p = arraymix.sample_mixup(0, 3)
    bad = {"perm": p._replace(perm=np.arange(4)), "repeat": p._replace(perm=np.zeros(3, int)),
           "type": (p.lam, p.perm)}[params]
    with pytest.raises((ValueError, TypeError), match=match):
        arraymix.collate(samples, bad)


def test_strided_torch_samples():
    """Samples that are views (channels-last memory) take torch's own loops,
    with the same values."""
    torch = pytest.importorskip("torch", reason="torch is not installed")
    gen = np.random.default_rng(2)
    batch = torch.from_numpy(gen.integers(0, 256, (6, 3, 40, 41), dtype=np.uint8))
    batch = batch.contiguous(memory_format=torch.channels_last)
    samples = list(batch.unbind(0))
    assert not samples[0].is_contiguous()
    kw = {"num_classes": 3, "lam_mode": "sample", "seed": 5}
    x, y = arraymix.Mixer(**kw).collate([(s, i % 3) for i, s in enumerate(samples)])
    x2, y2 = arraymix.Mixer(**kw)(torch.stack(samples), torch.arange(6) % 3)
    assert torch.equal(x, x2)
    assert torch.equal(y, y2)


def test_tensors_that_track_gradients_are_refused():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    samples = [torch.zeros(3, 4, 4, requires_grad=True) for _ in range(2)]
    with pytest.raises(ValueError, match="requires grad"):
        arraymix.collate(samples, arraymix.sample_mixup(0, 2))
