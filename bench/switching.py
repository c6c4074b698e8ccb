"""What the other libraries' mixup computes, reproduced with arraymix.

For each of timm, torchvision v2 and kornia (those installed), run its MixUp
and CutMix once on a batch whose sample ``i`` has class ``i``, read back the
weights and partners it drew (from its labels) and its boxes (from the
pixels it changed), then apply exactly those parameters with
:func:`arraymix.blend` and :func:`arraymix.paste` and report the largest
difference from the library's own output. A row at 0 (or an ulp) means the
README's table "Switching from ..." maps that call onto arraymix's
parameters correctly: which partner, which way λ weights, one box or one per
sample. Run it where the libraries are, e.g. ``.venv-bench/bin/python
bench/switching.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np

B, C, H, W = 8, 8, 24, 20


def _partners(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """λ (the original's weight) and partner of each row of mixed one-hot
    labels whose sample i has class i."""
    lam = rows[np.arange(B), np.arange(B)]
    others = rows.copy()
    others[np.arange(B), np.arange(B)] = -1.0
    perm = np.where(np.isclose(lam, 1.0), np.arange(B), others.argmax(1))
    return lam, perm


def _boxes(x: np.ndarray, out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each sample's box: the bounding box of the pixels that changed."""
    changed = (out != x).any(axis=1)
    lower = np.zeros((B, 2), np.int64)
    upper = np.zeros((B, 2), np.int64)
    for i in range(B):
        rows, cols = np.nonzero(changed[i].any(1))[0], np.nonzero(changed[i].any(0))[0]
        if rows.size:
            lower[i] = rows.min(), cols.min()
            upper[i] = rows.max() + 1, cols.max() + 1
    return lower, upper


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


def _rows(torch: Any) -> list[tuple[str, str, Callable[[], float]]]:
    gen = torch.Generator().manual_seed(0)
    x0 = torch.randn(B, 3, H, W, generator=gen)
    ids = torch.arange(B)
    rows: list[tuple[str, str, Callable[[], float]]] = []

    def cutmix_box_check(out: Any, lam: np.ndarray, perm: np.ndarray) -> float:
        xn, on = x0.numpy(), out.numpy()
        lower, upper = _boxes(xn, on)
        kept = 1.0 - np.prod(upper - lower, axis=1) / (H * W)
        assert np.allclose(kept, lam, atol=1e-6), "λ is not the kept fraction"
        return _check(torch, x0, out, lam, perm, (lower, upper))

    def _timm(mixup: Any) -> tuple[Any, Any]:
        """timm mixes the caller's batch in place and returns the targets
        (recent versions return the batch too)."""
        x = x0.clone()
        got = mixup(x, ids)
        return (got if isinstance(got, tuple) else (x, got))

    try:
        from timm.data import Mixup
    except ImportError as e:
        print(f"timm: not checked ({e})", file=sys.stderr)
    else:
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

    try:
        from torchvision.transforms import v2
    except ImportError as e:
        print(f"torchvision: not checked ({e})", file=sys.stderr)
    else:
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

    try:
        import kornia.augmentation as kornia_aug
    except ImportError as e:
        print(f"kornia: not checked ({e})", file=sys.stderr)
    else:
        def k_labels(y: Any) -> tuple[np.ndarray, np.ndarray]:
            """kornia's labels are (y, y[partner], w) rows, w the partner's weight."""
            rows = y.reshape(-1, 3).numpy()
            return 1.0 - rows[:, 2], rows[:, 1].astype(np.int64)

        def k_mix() -> float:
            out, y = kornia_aug.RandomMixUpV2(data_keys=["input", "class"])(x0, ids)
            lam, perm = k_labels(y)
            return _check(torch, x0, out, lam, perm, None)

        def k_cut() -> float:
            out, y = kornia_aug.RandomCutMixV2(data_keys=["input", "class"])(x0, ids)
            lam, perm = k_labels(y)
            return cutmix_box_check(out, lam, perm)

        rows += [("kornia RandomMixUpV2", "mixup(..., alpha=1.0, lam_mode='sample'), "
                  "λ = 1 − kornia's", k_mix),
                 ("kornia RandomCutMixV2", "cutmix(..., lam_mode='sample'), "
                  "λ = 1 − kornia's", k_cut)]
    return rows


def main() -> int:
    import torch

    torch.manual_seed(0)
    print("| library call | arraymix | max abs diff |")
    print("|---|---|---|")
    failed = False
    for name, equivalent, check in _rows(torch):
        diff = check()
        failed |= not diff <= 1e-6
        print(f"| {name} | `{equivalent}` | {diff:.1e} |")
    return int(failed)


if __name__ == "__main__":
    sys.exit(main())
