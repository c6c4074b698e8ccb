"""mixed_cross_entropy on every backend against the float64 cross-entropy of
the dense mixed targets, computed here in NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import arraymix
from reference import ref_one_hot, ref_paste

SEEDS = st.integers(0, 2**32 - 1)
TOLERANCE = {"float16": 2e-2, "bfloat16": 1e-1, "float32": 2e-5, "float64": 1e-10}


def ref_log_softmax(logits, axis):
    z = logits - logits.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def dense_loss(logits, targets, axis):
    """CE against probability targets, classes on ``axis`` of both."""
    return -(targets * ref_log_softmax(logits, axis)).sum(axis=axis)


def reduce(loss, reduction):
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


@settings(max_examples=25)
@given(data=st.data(), batch=st.integers(1, 9), classes=st.integers(1, 12), seed=SEEDS,
       method=st.sampled_from(["mixup", "cutmix"]), lam_mode=st.sampled_from(["batch", "sample"]),
       smoothing=st.sampled_from([0.0, 0.1, 0.5]),
       reduction=st.sampled_from(["none", "mean", "sum"]))
def test_equals_the_dense_loss(backend, data, batch, classes, seed, method, lam_mode, smoothing,
                               reduction):
    names = [d for d in ("float16", "bfloat16", "float32", "float64") if d in backend.dtypes]
    dtype = data.draw(st.sampled_from(names), label="dtype")
    gen = np.random.default_rng(seed)
    logits_np = gen.normal(scale=3.0, size=(batch, classes))
    ids_np = gen.integers(0, classes, size=batch)
    logits, ids = backend.asarray(logits_np, dtype), backend.asarray(ids_np)
    if method == "mixup":
        p = arraymix.sample_mixup(seed, batch, lam_mode=lam_mode, xp=backend.xp,
                                  device=backend.device)
    else:
        p = arraymix.sample_cutmix(seed, batch, (6, 5), lam_mode=lam_mode, xp=backend.xp,
                                   device=backend.device)
    got = backend.call(arraymix.mixed_cross_entropy, logits, ids, p, label_smoothing=smoothing,
                       reduction=reduction)
    assert got.dtype == logits.dtype
    assert tuple(got.shape) == ((batch,) if reduction == "none" else ())
    if not backend.has_values:
        return
    held = backend.numpy(logits).astype(np.float64)  # the logits as the backend holds them
    lam = backend.numpy(p.lam).astype(np.float64)
    perm = backend.numpy(p.perm)
    lam = np.broadcast_to(lam, (batch,))[:, None]
    onehot = ref_one_hot(ids_np, classes, smoothing)
    targets = lam * onehot + (1 - lam) * onehot[perm]
    want = reduce(dense_loss(held, targets, -1), reduction)
    scale = max(1.0, float(np.abs(want).max())) * (batch if reduction == "sum" else 1)
    np.testing.assert_allclose(backend.numpy(got), want, rtol=0, atol=TOLERANCE[dtype] * scale)


@settings(max_examples=15)
@given(batch=st.integers(1, 5), classes=st.integers(2, 6), seed=SEEDS,
       method=st.sampled_from(["mixup", "cutmix"]), lam_mode=st.sampled_from(["batch", "sample"]),
       smoothing=st.sampled_from([0.0, 0.2]))
def test_segmentation_per_position(backend, batch, classes, seed, method, lam_mode, smoothing):
    """(B, C, H, W) logits and (B, H, W) labels: MixUp mixes each position's two
    labels; CutMix takes the label of the sample each pixel came from."""
    gen = np.random.default_rng(seed)
    h, w = 5, 7
    logits_np = gen.normal(size=(batch, classes, h, w)).astype(np.float32)
    labels_np = gen.integers(0, classes, size=(batch, h, w))
    logits, labels = backend.asarray(logits_np), backend.asarray(labels_np)
    draw = arraymix.sample_mixup if method == "mixup" else arraymix.sample_cutmix
    args = (seed, batch) if method == "mixup" else (seed, batch, (h, w))
    p = draw(*args, lam_mode=lam_mode, xp=backend.xp, device=backend.device)
    got = backend.call(arraymix.mixed_cross_entropy, logits, labels, p, axis=1,
                       label_smoothing=smoothing, reduction="none")
    assert tuple(got.shape) == (batch, h, w)
    if not backend.has_values:
        return
    q = draw(*args, lam_mode=lam_mode)  # the same draw in NumPy
    onehot = np.moveaxis(ref_one_hot(labels_np, classes, smoothing), -1, 1)  # (B, C, H, W)
    if method == "mixup":
        lam = np.broadcast_to(backend.numpy(p.lam).astype(np.float64), (batch,))
        lam = lam[:, None, None, None]
        targets = lam * onehot + (1 - lam) * onehot[q.perm]
    else:
        pasted = ref_paste(labels_np, q.perm, q.lower, q.upper, (1, 2))
        targets = np.moveaxis(ref_one_hot(pasted, classes, smoothing), -1, 1)
    want = dense_loss(logits_np.astype(np.float64), targets, 1)
    np.testing.assert_allclose(backend.numpy(got), want, rtol=0, atol=5e-5)


def test_equals_the_loss_of_mixup_targets():
    """The same draw: CE against mixup's soft targets equals the loss from ids."""
    gen = np.random.default_rng(0)
    x = gen.random((16, 3, 4, 4), dtype=np.float32)
    ids = gen.integers(0, 10, size=16)
    logits = gen.normal(size=(16, 10))
    for call, draw in ((arraymix.mixup, arraymix.sample_mixup),
                       (arraymix.cutmix, arraymix.sample_cutmix)):
        _, y = call(x, ids, num_classes=10, label_smoothing=0.1, lam_mode="sample", rng=4)
        args = (4, 16) if draw is arraymix.sample_mixup else (4, 16, (4, 4))
        p = draw(*args, lam_mode="sample")
        got = arraymix.mixed_cross_entropy(logits, ids, p, label_smoothing=0.1)
        want = dense_loss(logits, y.astype(np.float64), -1).mean()
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_torch_gradient_and_compile():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    torch._dynamo.reset()
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(8, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    ids = torch.randint(0, 5, (8,), generator=gen)
    p = arraymix.sample_mixup(1, 8, lam_mode="sample", xp=torch, device="cpu")
    loss = arraymix.mixed_cross_entropy(logits, ids, p, label_smoothing=0.1)
    (grad,) = torch.autograd.grad(loss, logits)
    targets = arraymix.blend(arraymix.one_hot(ids, 5, smoothing=0.1, dtype=torch.float64), p)
    dense = torch.nn.functional.cross_entropy(logits, targets)
    (want,) = torch.autograd.grad(dense, logits)
    torch.testing.assert_close(loss, dense)
    torch.testing.assert_close(grad, want)

    compiled = torch.compile(arraymix.mixed_cross_entropy, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(logits.detach(), ids, p, label_smoothing=0.1),
                               loss.detach())


def test_jax_gradient():
    jax = pytest.importorskip("jax", reason="jax is not installed")
    import jax.numpy as jnp

    logits = jax.random.normal(jax.random.key(0), (6, 4))
    ids = jnp.arange(6) % 4
    p = arraymix.sample_mixup(jax.random.key(1), 6, lam_mode="sample")
    grad = jax.jit(jax.grad(lambda z: arraymix.mixed_cross_entropy(z, ids, p)))(logits)
    onehot = jax.nn.one_hot(ids, 4)
    lam = p.lam[:, None]
    targets = lam * onehot + (1 - lam) * onehot[p.perm]
    want = jax.grad(lambda z: -(targets * jax.nn.log_softmax(z)).sum(-1).mean())(logits)
    np.testing.assert_allclose(np.asarray(grad), np.asarray(want), atol=1e-6)


LOGITS = np.zeros((2, 3))
IDS = np.asarray([0, 2])
MIX = arraymix.MixParams(lam=np.asarray(0.5), perm=np.asarray([1, 0]))


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda: arraymix.mixed_cross_entropy(LOGITS.astype(int), IDS, MIX), TypeError,
     "logits must have a real floating dtype"),
    (lambda: arraymix.mixed_cross_entropy(LOGITS[:, 0], IDS, MIX), ValueError,
     r"logits must have a batch and a class axis"),
    (lambda: arraymix.mixed_cross_entropy(LOGITS, IDS.astype(float), MIX), ValueError,
     r"labels must be integer class ids of shape \(2,\)"),
    (lambda: arraymix.mixed_cross_entropy(LOGITS, IDS[:, None], MIX), ValueError,
     "labels must be integer class ids"),
    (lambda: arraymix.mixed_cross_entropy(LOGITS, IDS, MIX, axis=0), ValueError,
     "batch axis"),
    (lambda: arraymix.mixed_cross_entropy(LOGITS, IDS, MIX, label_smoothing=1.0), ValueError,
     "label_smoothing"),
    (lambda: arraymix.mixed_cross_entropy(LOGITS, IDS, MIX, reduction="avg"), ValueError,
     "reduction must be one of"),
    (lambda: arraymix.mixed_cross_entropy(LOGITS, np.asarray([0, 3]), MIX), ValueError,
     r"labels must hold class ids in \[0, 3\)"),
    (lambda: arraymix.mixed_cross_entropy(LOGITS, IDS, IDS), TypeError,
     "params must be MixParams or CutMixParams"),
    (lambda: arraymix.mixed_cross_entropy(
        np.zeros((2, 3, 4)), np.zeros((2, 4), dtype=int), arraymix.sample_cutmix(0, 2, (4, 4)),
        axis=1), ValueError, "at most the 1 axes of labels"),
])
def test_bad_input_is_named(call, error, match):
    with pytest.raises(error, match=match):
        call()
