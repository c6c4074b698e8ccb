"""What the other libraries' mixup computes, reproduced with arraymix.

For each of timm, torchvision v2, kornia and Keras 3 on its JAX backend,
run its MixUp and CutMix once on a batch whose sample ``i`` has class
``i``, read back the weights and partners it drew (from its labels) and its
boxes (from the pixels it changed), then apply exactly those parameters
with :func:`arraymix.blend` and :func:`arraymix.paste`: the result must be
the library's own output (to an ulp). That proves the migration tables
(docs) map each call onto arraymix's parameters correctly: which partner,
which way λ weights, one box or one per sample. The boxes timm's
``cutmix_minmax`` draws follow the law of the ones ``minmax=`` draws here.
Each library's test is skipped, with the reason, where it is not installed
(``pip install ".[bench]"`` brings them all).
"""

from __future__ import annotations

import importlib
import inspect
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

B, C, H, W = 8, 8, 24, 20


def _partners(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """λ (the original's weight) and partner of each row of mixed one-hot
    labels whose sample i has class i."""
    lam = rows[np.arange(B), np.arange(B)]
    others = rows.copy()
    others[np.arange(B), np.arange(B)] = -1.0
    perm = np.where(np.isclose(lam, 1.0), np.arange(B), others.argmax(1))
    return lam, perm


def _boxes(x: np.ndarray, out: np.ndarray, channels: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Each sample's box: the bounding box of the pixels that changed."""
    changed = (out != x).any(axis=channels)
    lower = np.zeros((B, 2), np.int64)
    upper = np.zeros((B, 2), np.int64)
    for i in range(B):
        rows, cols = np.nonzero(changed[i].any(1))[0], np.nonzero(changed[i].any(0))[0]
        if rows.size:
            lower[i] = rows.min(), cols.min()
            upper[i] = rows.max() + 1, cols.max() + 1
    return lower, upper


def _ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Largest gap between the empirical CDFs of two samples of whole numbers."""
    support = np.union1d(a, b)
    cdf_a = np.searchsorted(np.sort(a), support, side="right") / a.size
    cdf_b = np.searchsorted(np.sort(b), support, side="right") / b.size
    return float(np.abs(cdf_a - cdf_b).max())


def _same_minmax_law(minmax: tuple[float, float], n: int = 50_000) -> None:
    """timm's cutmix_minmax boxes and arraymix's ``minmax=`` boxes: heights,
    widths, tops and lefts follow the same law (two-sample Kolmogorov-Smirnov
    at the 0.1% level; conservative on whole numbers)."""
    from timm.data.mixup import rand_bbox_minmax

    import arraymix

    np.random.seed(0)  # noqa: NPY002  (timm draws from NumPy's global generator)
    top, bottom, left, right = rand_bbox_minmax((3, H, W), minmax, count=n)
    p = arraymix.sample_cutmix(0, n, (H, W), lam_mode="sample", minmax=minmax)
    critical = 1.95 * np.sqrt(2 / n)
    for name, theirs, ours in (("heights", bottom - top, p.upper[:, 0] - p.lower[:, 0]),
                               ("widths", right - left, p.upper[:, 1] - p.lower[:, 1]),
                               ("tops", top, p.lower[:, 0]), ("lefts", left, p.lower[:, 1])):
        d = _ks_distance(np.asarray(theirs), np.asarray(ours))
        assert d < critical, f"{name} follow another law than timm's: KS distance {d:.4f}"


def _check(torch: Any, x: Any, out: Any, lam: np.ndarray, perm: np.ndarray,
           boxes: tuple[np.ndarray, np.ndarray] | None) -> float:
    """Largest |arraymix(params) - library's output|."""
    import arraymix

    p_lam = torch.asarray(lam, dtype=torch.float32)
    p_perm = torch.asarray(perm)
    if boxes is None:
        mine = arraymix.blend(x, arraymix.MixParams(p_lam, p_perm))
    else:
        lower, upper = (torch.asarray(b) for b in boxes)
        mine = arraymix.paste(x, arraymix.CutMixParams(p_lam, p_perm, lower, upper))
    return float((mine - out).abs().max())


Row = tuple[str, str, Callable[[], float]]


def _need(module: str) -> Any:
    """``module``, or a skip naming why it cannot be imported (a broken
    install raises more than ImportError: torchvision beside another torch)."""
    try:
        return importlib.import_module(module)
    except Exception as e:
        pytest.skip(f"{module} is not usable here: {type(e).__name__}: {e}")


def _rows(torch: Any, library: str) -> list[Row]:
    gen = torch.Generator().manual_seed(0)
    x0 = torch.randn(B, 3, H, W, generator=gen)
    ids = torch.arange(B)
    rows: list[tuple[str, str, Callable[[], float]]] = []

    def cutmix_box_check(out: Any, lam: np.ndarray, perm: np.ndarray) -> float:
        xn, on = x0.numpy(), out.numpy()
        lower, upper = _boxes(xn, on)
        kept = 1.0 - np.prod(upper - lower, axis=1) / (H * W)
        moved = perm != np.arange(B)  # a sample pasted from itself shows no box
        assert np.allclose(kept[moved], lam[moved], atol=1e-6), "λ is not the kept fraction"
        return _check(torch, x0, out, kept, perm, (lower, upper))

    def _timm(mixup: Any) -> tuple[Any, Any]:
        """timm mixes the caller's batch in place and returns the targets
        (recent versions return the batch too)."""
        x = x0.clone()
        got = mixup(x, ids)
        return (got if isinstance(got, tuple) else (x, got))

    if library == "timm":
        Mixup = _need("timm.data").Mixup  # noqa: N806  (timm's class)
        for mode, what in (("batch", "lam_mode='batch'"), ("elem", "lam_mode='sample'")):
            def timm_mix(mode: str = mode) -> float:
                out, y = _timm(Mixup(mixup_alpha=1.0, cutmix_alpha=0.0, mode=mode,
                                     label_smoothing=0.0, num_classes=C))
                lam, perm = _partners(y.numpy())
                moved = perm != np.arange(B)
                assert np.array_equal(perm[moved], (B - 1 - np.arange(B))[moved])
                return _check(torch, x0, out, lam, perm, None)

            rows.append((f"timm Mixup(mode={mode!r}) MixUp",
                         f"mixup(..., pairing='flip', {what})", timm_mix))

        def timm_cut() -> float:
            out, y = _timm(Mixup(mixup_alpha=0.0, cutmix_alpha=1.0, label_smoothing=0.0,
                                 num_classes=C))
            lam, perm = _partners(y.numpy())
            return cutmix_box_check(out, lam, perm)

        rows.append(("timm Mixup CutMix", "cutmix(..., pairing='flip')", timm_cut))

        def timm_pair(cut: bool) -> float:
            """mode='pair': one λ per pair (i, B-1-i), and for CutMix one box,
            which the two partners swap."""
            out, y = _timm(Mixup(mixup_alpha=0.0 if cut else 1.0,
                                 cutmix_alpha=1.0 if cut else 0.0, mode="pair",
                                 label_smoothing=0.0, num_classes=C))
            lam, _ = _partners(y.numpy())
            flip = B - 1 - np.arange(B)
            assert np.array_equal(lam, lam[flip]), "λ differs inside a pair"
            if not cut:
                return _check(torch, x0, out, lam, flip, None)
            lower, upper = _boxes(x0.numpy(), out.numpy())
            assert np.array_equal(lower, lower[flip]), "a pair's boxes differ"
            assert np.array_equal(upper, upper[flip]), "a pair's boxes differ"
            return cutmix_box_check(out, lam, flip)

        rows.append(("timm Mixup(mode='pair') MixUp",
                     "mixup(..., lam_mode='pair', pairing='flip')", lambda: timm_pair(False)))
        rows.append(("timm Mixup(mode='pair') CutMix",
                     "cutmix(..., lam_mode='pair', pairing='flip')", lambda: timm_pair(True)))

        def timm_minmax() -> float:
            minmax = (0.2, 0.8)
            out, y = _timm(Mixup(mixup_alpha=0.0, cutmix_alpha=0.0, cutmix_minmax=minmax,
                                 mode="elem", label_smoothing=0.0, num_classes=C))
            lam, perm = _partners(y.numpy())
            _same_minmax_law(minmax)
            return cutmix_box_check(out, lam, perm)

        rows.append(("timm Mixup(cutmix_minmax=(0.2, 0.8), mode='elem')",
                     "cutmix(..., minmax=(0.2, 0.8), lam_mode='sample', pairing='flip')",
                     timm_minmax))

    if library == "torchvision":
        v2 = _need("torchvision.transforms.v2")

        def tv_mix() -> float:
            out, y = v2.MixUp(alpha=1.0, num_classes=C)(x0, ids)
            lam, perm = _partners(y.numpy())
            assert np.array_equal(perm, np.roll(np.arange(B), 1)), "partner is not i - 1"
            return _check(torch, x0, out, lam, perm, None)

        def tv_cut() -> float:
            out, y = v2.CutMix(alpha=1.0, num_classes=C)(x0, ids)
            lam, perm = _partners(y.numpy())
            return cutmix_box_check(out, lam, perm)

        rows += [("torchvision v2.MixUp", "mixup(..., pairing='roll')", tv_mix),
                 ("torchvision v2.CutMix", "cutmix(..., pairing='roll')", tv_cut)]

    if library == "kornia":
        kornia_aug = _need("kornia.augmentation")

        def k_labels(y: Any, kept: bool = False) -> tuple[np.ndarray, np.ndarray]:
            """kornia's labels are (y, y[partner], w) rows, w the partner's
            weight (the original's with CutMix's ``use_correct_lambda``)."""
            rows = y.reshape(-1, 3).numpy()
            return rows[:, 2] if kept else 1.0 - rows[:, 2], rows[:, 1].astype(np.int64)

        def k_mix() -> float:
            out, y = kornia_aug.RandomMixUpV2(data_keys=["input", "class"])(x0, ids)
            lam, perm = k_labels(y)
            return _check(torch, x0, out, lam, perm, None)

        def k_cut() -> float:
            kw: dict[str, Any] = {"data_keys": ["input", "class"]}
            correct = "use_correct_lambda" in inspect.signature(
                kornia_aug.RandomCutMixV2).parameters
            if correct:  # kornia 0.9 and later: weigh the original by the kept fraction
                kw["use_correct_lambda"] = True
            out, y = kornia_aug.RandomCutMixV2(**kw)(x0, ids)
            lam, perm = k_labels(y, kept=correct)
            return cutmix_box_check(out, lam, perm)

        rows += [("kornia RandomMixUpV2", "mixup(..., alpha=1.0, lam_mode='sample'), "
                  "λ = 1 − kornia's", k_mix),
                 ("kornia RandomCutMixV2", "cutmix(..., lam_mode='sample'), "
                  "λ = 1 − kornia's", k_cut)]
    return rows


def _keras_rows(monkeypatch: pytest.MonkeyPatch) -> list[Row]:
    """Keras 3 on its JAX backend (set before keras is imported), on an NHWC
    NumPy batch with one-hot labels, as its layers want them."""
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    keras = _need("keras")
    if keras.backend.backend() != "jax":
        pytest.skip(f"keras was imported with the {keras.backend.backend()} backend")
    if not (hasattr(keras.layers, "MixUp") and hasattr(keras.layers, "CutMix")):
        pytest.skip(f"keras {keras.__version__} has no MixUp/CutMix layers")
    import arraymix

    x = np.random.default_rng(0).normal(size=(B, H, W, 3)).astype(np.float32)
    onehot = np.eye(C, dtype=np.float32)

    def run(layer: Any) -> tuple[np.ndarray, np.ndarray]:
        with warnings.catch_warnings():  # keras warns of its own int64 arange on 32-bit JAX
            warnings.simplefilter("ignore", UserWarning)
            got = layer({"images": x, "labels": onehot}, training=True)
        return np.asarray(got["images"]), np.asarray(got["labels"])

    def k_mix() -> float:
        out, y = run(keras.layers.MixUp(alpha=1.0, seed=0))
        lam, perm = _partners(y)
        mine = arraymix.blend(x, arraymix.MixParams(lam.astype(np.float32), perm))
        return float(np.abs(mine - out).max())

    def k_cut() -> float:
        out, y = run(keras.layers.CutMix(factor=1.0, seed=0))
        _, perm = _partners(y)
        lower, upper = _boxes(x, out, channels=-1)
        kept = 1.0 - np.prod(upper - lower, axis=1) / (H * W)
        mine = arraymix.paste(x, arraymix.CutMixParams(kept, perm, lower, upper), axes=(1, 2))
        return float(np.abs(mine - out).max())

    return [("keras.layers.MixUp (JAX backend)", "mixup(..., lam_mode='sample')", k_mix),
            ("keras.layers.CutMix (JAX backend)", "cutmix(..., axes=(1, 2), lam_mode='sample')",
             k_cut)]


@pytest.mark.parametrize("library", ["timm", "torchvision", "kornia", "keras"])
def test_their_output_is_arraymix_with_their_draws(library, monkeypatch):
    """Every MixUp and CutMix call of ``library`` equals arraymix's blend or
    paste with the parameters it drew."""
    torch = pytest.importorskip("torch", reason="torch is not installed")
    torch.manual_seed(0)
    rows = _keras_rows(monkeypatch) if library == "keras" else _rows(torch, library)
    assert rows
    for name, equivalent, check in rows:
        diff = check()
        assert diff <= 1e-6, f"{name} is not {equivalent}: largest difference {diff:.1e}"
