"""``arraymix demo``: mix a batch of bundled photographs and draw what happened."""

from __future__ import annotations

import argparse
import importlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import array_api_compat
import numpy as np

from . import _default_backend, _need, _out_dir

__all__ = ["demo"]

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "camera", "immunohistochemistry",
          "hubble_deep_field", "colorwheel")


#: The objects in each photograph, as fractions of its square crop (x0, y0, x1, y1),
#: drawn by hand for the detection figure; the deep field has none.
OBJECTS = (
    ((0.28, 0.02, 0.58, 0.40), (0.66, 0.62, 1.0, 1.0)),    # the astronaut's face, a helmet
    ((0.17, 0.40, 0.40, 0.62), (0.70, 0.40, 0.92, 0.62)),  # the cat's eyes
    ((0.18, 0.0, 0.82, 0.76), (0.55, 0.55, 0.78, 0.76)),   # the cup, the spoon
    ((0.50, 0.27, 0.63, 0.93), (0.14, 0.30, 0.31, 0.92)),  # the rocket, a tower
    ((0.0, 0.12, 0.62, 1.0), (0.40, 0.45, 0.70, 1.0)),     # the photographer, the tripod
    ((0.52, 0.55, 0.96, 1.0),),                            # a gland
    (),
    ((0.02, 0.02, 0.98, 0.98),),                           # the wheel
)


def _photos(size: int) -> tuple[np.ndarray, list[str]]:
    """The bundled photographs, centre-cropped and resized to size × size, uint8 NHWC."""
    data = _need("skimage.data", "demo")
    transform = _need("skimage.transform", "demo")
    images = []
    for name in PHOTOS:
        im = np.asarray(getattr(data, name)())
        if im.ndim == 2:
            im = np.repeat(im[..., None], 3, axis=-1)
        h, w = im.shape[:2]
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        crop = im[top:top + side, left:left + side, :3]
        small = transform.resize(crop, (size, size), anti_aliasing=True, preserve_range=True)
        images.append(np.round(small).astype(np.uint8))
    return np.stack(images), list(PHOTOS)


def _to_backend(backend: str, a: np.ndarray) -> Any:
    if backend == "numpy":
        return a
    if backend == "torch":
        torch = _need("torch", "torch")
        dev = "cuda" if torch.cuda.is_available() else "cpu"
        return torch.asarray(a, device=dev)
    jnp = _need("jax.numpy", "jax")
    return jnp.asarray(a)


def _to_numpy(a: Any) -> np.ndarray:
    if hasattr(a, "detach"):
        a = a.detach().cpu()
    return np.asarray(a)


def _tiles(plt: Any, images: np.ndarray, titles: list[str], path: Path, heading: str,
           extra: Callable[[Any, int], None] | None = None) -> None:
    """The batch as a grid of 4 columns, each tile titled; ``extra(ax, k)``
    draws over tile ``k``."""
    n = images.shape[0]
    cols = 4
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 2.4, rows * 3.0), dpi=72)
    for k, ax in enumerate(np.ravel(axes)):
        ax.axis("off")
        if k >= n:
            continue
        ax.imshow(images[k])
        ax.set_title(titles[k], fontsize=7.5)
        if extra is not None:
            extra(ax, k)
    fig.suptitle(heading, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _outline(plt: Any, ax: Any, x0: float, y0: float, x1: float, y1: float, color: str,
             width: float = 1.5, style: str = "-") -> None:
    """A rectangle around pixels ``[x0, x1) × [y0, y1)``."""
    ax.add_patch(plt.Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False,
                               edgecolor=color, linewidth=width, linestyle=style))


def _grid(plt: Any, images: np.ndarray, titles: list[str], path: Path, heading: str,
          boxes: list[tuple[int, int, int, int] | None] | None = None) -> None:
    def extra(ax: Any, k: int) -> None:
        box = boxes[k] if boxes else None
        if box is not None:
            top, left, bottom, right = box
            _outline(plt, ax, left, top, right, bottom, "yellow")

    _tiles(plt, images, titles, path, heading, extra)


def _objects(size: int) -> tuple[np.ndarray, np.ndarray]:
    """The hand-drawn objects as padded pixel boxes ``(B, N, 4)`` and ``valid``."""
    n = max(len(o) for o in OBJECTS)
    boxes = np.zeros((len(OBJECTS), n, 4), dtype=np.float32)
    valid = np.zeros((len(OBJECTS), n), dtype=bool)
    for i, objects in enumerate(OBJECTS):
        for k, box in enumerate(objects):
            boxes[i, k] = np.round(np.asarray(box) * size)
            valid[i, k] = True
    return boxes, valid


def _detection_figure(plt: Any, images: np.ndarray, titles: list[str], path: Path,
                      boxes: np.ndarray, valid: np.ndarray,
                      regions: list[tuple[int, int, int, int] | None]) -> None:
    """The CutMixed photos with their boxes: own ones solid, pasted ones dashed."""
    half = boxes.shape[1] // 2

    def extra(ax: Any, k: int) -> None:
        region = regions[k]
        if region is not None:
            top, left, bottom, right = region
            _outline(plt, ax, left, top, right, bottom, "yellow", width=1)
        for j in np.flatnonzero(valid[k]):
            own = j < half
            x0, y0, x1, y1 = boxes[k, j]
            _outline(plt, ax, x0, y0, x1, y1, "lime" if own else "cyan",
                     style="-" if own else "--")

    _tiles(plt, images, titles, path, "CutMix with boxes: own kept (solid), the partner's "
           "pasted ones clipped (dashed), the pasted region (yellow)", extra)


def _segmentation_figure(plt: Any, images: np.ndarray, masks: np.ndarray, titles: list[str],
                         path: Path) -> None:
    """The CutMixed photos over their pasted label maps (at a lower resolution)."""
    h, w = images.shape[1:3]

    def extra(ax: Any, k: int) -> None:
        ax.imshow(masks[k], cmap="tab10", vmin=0, vmax=9, alpha=0.45,
                  extent=(-0.5, w - 0.5, h - 0.5, -0.5), interpolation="nearest")

    _tiles(plt, images, titles, path, "CutMix with label maps at a quarter of the resolution, "
           "pasted with the same params rescaled", extra)


def _top_labels(row: np.ndarray, names: list[str], k: int = 2) -> str:
    order = np.argsort(row)[::-1][:k]
    return " + ".join(f"{row[c]:.2f} {names[c][:9]}" for c in order if row[c] > 0.015)


def _family(arraymix: Any, args: argparse.Namespace, x: Any, y: Any, classes: int, xp: Any,
            dev: Any) -> tuple[np.ndarray, list[tuple[str, np.ndarray]],
                               list[tuple[int, int, int, int] | None]]:
    """Patch grid, FMix, Mosaic and ResizeMix on the first two photos: the
    tiles in columns by method, their titles with label rows, and the box to
    outline (ResizeMix's)."""
    batch, size = int(x.shape[0]), int(x.shape[1])
    sizes = (size, size)
    kw = {"lam_mode": "sample", "pairing": "derange", "xp": xp, "device": dev}
    patch = max(1, size // 8)
    drawn = {
        "patch grid": arraymix.sample_patchmix(args.seed, batch, sizes, patch=patch, **kw),
        "FMix": arraymix.sample_fmix(args.seed, batch, sizes, **kw),
        "Mosaic": arraymix.sample_mosaic(args.seed, batch, sizes, **kw),
        "ResizeMix": arraymix.sample_resizemix(args.seed, batch, sizes, scale=(0.3, 0.6), **kw),
    }
    ones = arraymix.one_hot(y, classes)
    mixed = {name: (_to_numpy(arraymix.paste(x, p, axes=(1, 2))),
                    _to_numpy(arraymix.blend(ones, p)), p) for name, p in drawn.items()}
    tiles, titles = [], []
    boxes: list[tuple[int, int, int, int] | None] = []
    for i in (0, 1):
        for name, (images, rows, p) in mixed.items():
            tiles.append(images[i])
            titles.append((f"{name}, photo {i}", rows[i]))
            if name == "ResizeMix":
                low, high = _to_numpy(p.lower)[i], _to_numpy(p.upper)[i]
                boxes.append((int(low[0]), int(low[1]), int(high[0]), int(high[1])))
            else:
                boxes.append(None)
    return np.stack(tiles), titles, boxes


def demo(args: argparse.Namespace) -> int:
    """Mix a batch of bundled photographs and draw what happened."""
    import arraymix

    matplotlib = _need("matplotlib", "demo")
    matplotlib.use("Agg")
    plt = importlib.import_module("matplotlib.pyplot")
    out = _out_dir(args.out)
    backend = args.backend or _default_backend()
    steps: list[tuple[str, float]] = []

    t = time.perf_counter()
    photos, names = _photos(args.size)
    steps.append(("load photos", time.perf_counter() - t))
    batch, classes = photos.shape[0], len(names)
    x = _to_backend(backend, photos)
    y = _to_backend(backend, np.arange(batch))
    xp = array_api_compat.array_namespace(x)
    dev = array_api_compat.device(x)
    written = []

    path = out / "originals.png"
    _grid(plt, photos, [f"{i}: {n}" for i, n in enumerate(names)], path,
          f"the batch: {batch} bundled photographs, uint8 NHWC ({backend})")
    written.append(path)

    t = time.perf_counter()
    p = arraymix.sample_mixup(args.seed, batch, alpha=0.4, lam_mode="sample",
                              pairing="derange", xp=xp, device=dev)
    mixed = arraymix.blend(x, p)
    targets = arraymix.blend(arraymix.one_hot(y, classes), p)
    steps.append(("mixup", time.perf_counter() - t))
    lam, perm = _to_numpy(p.lam), _to_numpy(p.perm)
    rows = _to_numpy(targets)
    titles = [f"{i}←{perm[i]}  λ={lam[i]:.2f}\n{_top_labels(rows[i], names)}"
              for i in range(batch)]
    path = out / "mixup.png"
    _grid(plt, _to_numpy(mixed), titles, path,
          "MixUp, one λ per sample: x = λ·x + (1−λ)·x[partner]")
    written.append(path)

    t = time.perf_counter()
    c = arraymix.sample_cutmix(args.seed, batch, (args.size, args.size), lam_mode="sample",
                               pairing="derange", xp=xp, device=dev)
    pasted = arraymix.paste(x, c, axes=(1, 2))
    cut_targets = arraymix.blend(arraymix.one_hot(y, classes), c)
    steps.append(("cutmix", time.perf_counter() - t))
    lower, upper = _to_numpy(c.lower), _to_numpy(c.upper)
    lam, perm, rows = _to_numpy(c.lam), _to_numpy(c.perm), _to_numpy(cut_targets)
    titles = [f"{i}←{perm[i]}  kept {lam[i]:.2f}\n{_top_labels(rows[i], names)}"
              for i in range(batch)]
    boxes: list[tuple[int, int, int, int] | None] = [
        (int(lower[i, 0]), int(lower[i, 1]), int(upper[i, 0]), int(upper[i, 1]))
        for i in range(batch)]
    path = out / "cutmix.png"
    _grid(plt, _to_numpy(pasted), titles, path,
          "CutMix, a box per sample (outlined): labels weighted by the area kept", boxes)
    written.append(path)

    t = time.perf_counter()
    obj, obj_valid = _objects(args.size)
    kept, kept_valid = arraymix.paste_boxes(_to_backend(backend, obj),
                                            _to_backend(backend, obj_valid), c)
    quarter = max(1, args.size // 4)
    maps = np.broadcast_to(np.arange(batch, dtype=np.uint8)[:, None, None],
                           (batch, quarter, quarter))
    pasted_maps = arraymix.paste(_to_backend(backend, np.ascontiguousarray(maps)),
                                 c.rescaled((quarter, quarter)), axes=(1, 2))
    steps.append(("boxes, maps", time.perf_counter() - t))
    kept_np, kept_valid_np = _to_numpy(kept), _to_numpy(kept_valid)
    half = obj.shape[1]
    titles = [f"{i}←{perm[i]}: {int(kept_valid_np[i, :half].sum())} own, "
              f"{int(kept_valid_np[i, half:].sum())} pasted" for i in range(batch)]
    path = out / "detection.png"
    _detection_figure(plt, _to_numpy(pasted), titles, path, kept_np, kept_valid_np, boxes)
    written.append(path)
    path = out / "segmentation.png"
    _segmentation_figure(plt, _to_numpy(pasted), _to_numpy(pasted_maps),
                         [f"{i}←{perm[i]}: map {quarter}×{quarter}" for i in range(batch)], path)
    written.append(path)

    t = time.perf_counter()
    mixer = arraymix.Mixer(num_classes=classes, lam_mode="sample", prob=0.75,
                           label_smoothing=0.0, cutmix_axes=(1, 2), seed=args.seed)
    mx, my = mixer(x, y)
    steps.append(("Mixer", time.perf_counter() - t))
    rows = _to_numpy(my)
    titles = [f"{i}: {_top_labels(rows[i], names)}" for i in range(batch)]
    path = out / "mixer.png"
    _grid(plt, _to_numpy(mx), titles, path,
          "Mixer (timm's recipe), per sample: MixUp, CutMix or untouched")
    written.append(path)

    t = time.perf_counter()
    family_tiles, family_titles, family_boxes = _family(arraymix, args, x, y, classes, xp, dev)
    steps.append(("family", time.perf_counter() - t))
    named = [f"{title}\n{_top_labels(row, names)}" for title, row in family_titles]
    path = out / "family.png"
    _grid(plt, family_tiles, named, path, "The family, a column each: patch grid (8×8 "
          "cells), FMix, Mosaic (four quadrants), ResizeMix (the partner resized into the box)",
          family_boxes)
    written.append(path)

    for name, seconds in steps:
        print(f"{name:<12} {seconds * 1e3:8.1f} ms")
    for path in written:
        print(f"wrote {path}")
    return 0
