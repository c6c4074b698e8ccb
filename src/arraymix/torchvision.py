"""torchvision v2 transforms backed by arraymix: MixUp, CutMix and the Mixer.

Import this module by name (``from arraymix.torchvision import MixUp``):
it needs torch and torchvision, which ``import arraymix`` never loads.

The transforms take what torchvision's ``v2.MixUp`` and ``v2.CutMix`` take —
a batch of images (``tv_tensors.Image``, ``tv_tensors.Video`` or a plain
tensor) with class labels, in any nesting of tuples, lists and dicts —
and, beyond them, segmentation masks and detection targets:

- a batched ``tv_tensors.Mask`` ``(B, ..., h, w)`` follows the images' pasted
  boxes, at its own resolution (MixUp leaves masks alone: mix their loss
  with :func:`arraymix.mixed_cross_entropy` instead);
- detection targets as torchvision's detection models take them, one dict
  per image with its ``tv_tensors.BoundingBoxes`` ``(N_i, 4)``, get the
  image's own boxes that stay visible and its partner's boxes that were
  pasted (or all of both, for MixUp). Every tensor beside the boxes in that
  dict whose first axis has their length (labels, instance masks, crowd
  flags) follows its boxes; a 2-D ``tv_tensors.Mask`` there is the image's
  semantic mask and is pasted.

One draw of an :class:`arraymix.Mixer` mixes them all, so every target stays
aligned with the pixels. Every tv_tensor comes back of its own type with its
metadata (box format, canvas size). The batched part stays on the device
without a sync; detection targets, whose lengths depend on the draw, read
the draw's partners and kept boxes on the host.
"""

from __future__ import annotations

import collections.abc
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.utils import _pytree as pytree
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as tvf

from ._apply import mix, paste
from ._backends import select
from ._compat import namespace
from ._detection import MIN_VISIBLE, paste_boxes
from ._labels import check_targets
from ._mixer import Mixer
from ._params import MixerParams
from ._switch import draw_targets
from ._validate import check_bool, check_real

__all__ = ["CutMix", "MixUp", "MixerTransform"]

#: Box formats whose boxes are axis-aligned rectangles, as paste_boxes takes them.
_AXIS_ALIGNED = ("XYXY", "XYWH", "CXCYWH")

LabelsGetter = Callable[[Any], Any]


class MixerTransform(v2.Transform):  # type: ignore[misc]  # torchvision is untyped
    """A torchvision v2 transform that mixes with an :class:`arraymix.Mixer`.

    Parameters
    ----------
    mixer : Mixer
        Draws the mix: its method switch, λ, pairing, labels and stream.
        Its ``cutmix_axes`` must be ``(-2, -1)``, the height and width of
        torchvision's ``(..., C, H, W)`` layout.
    labels_getter : "default", callable or None, default "default"
        Where the class labels are, as in ``v2.MixUp``: by default the second
        item of a tuple or list when it is a tensor, or the ``"labels"`` entry
        of a dict (or the second item's dict); a callable takes the
        transform's input and returns them; None: no labels. Not consulted
        for detection targets, whose labels follow their boxes.
    min_visible : float, default 0.1
        The least fraction of a box that must stay seen for it to be kept,
        as in :func:`arraymix.paste_boxes`.

    Examples
    --------
    >>> import torch
    >>> from torchvision import tv_tensors
    >>> from torchvision.transforms import v2
    >>> import arraymix
    >>> from arraymix.torchvision import MixerTransform
    >>> mix = v2.Compose([MixerTransform(arraymix.Mixer(num_classes=10, seed=0))])
    >>> images = tv_tensors.Image(torch.rand(8, 3, 32, 32))
    >>> masks = tv_tensors.Mask(torch.randint(0, 21, (8, 32, 32)))
    >>> x, y, m = mix(images, torch.arange(8), masks)
    >>> type(x).__name__, tuple(y.shape), type(m).__name__
    ('Image', (8, 10), 'Mask')
    """

    def __init__(self, mixer: Mixer, /, *, labels_getter: str | LabelsGetter | None = "default",
                 min_visible: float = MIN_VISIBLE) -> None:
        super().__init__()
        if not isinstance(mixer, Mixer):
            raise TypeError(f"mixer must be an arraymix.Mixer, got {type(mixer).__name__}")
        if tuple(mixer.cutmix_axes) != (-2, -1):
            raise ValueError(
                "the mixer's cutmix_axes must be (-2, -1): torchvision's images are "
                f"(..., C, H, W); got {tuple(mixer.cutmix_axes)}"
            )
        if not (labels_getter == "default" or labels_getter is None or callable(labels_getter)):
            raise ValueError(
                "labels_getter must be 'default', a callable or None, got "
                f"{labels_getter!r}"
            )
        self.mixer = mixer
        self.labels_getter = labels_getter
        self.min_visible = check_real(min_visible, "min_visible", low=0.0, high=1.0)

    def extra_repr(self) -> str:
        return f"{self.mixer!r}, min_visible={self.min_visible:g}"

    def forward(self, *inputs: Any) -> Any:
        sample = inputs if len(inputs) > 1 else inputs[0]
        pairs, spec = pytree.tree_flatten_with_path(sample)
        paths = [path for path, _ in pairs]
        flat = [leaf for _, leaf in pairs]
        _refuse_unsupported(flat)
        images = _image_leaves(flat)
        first = flat[images[0]]
        batch, sizes = first.shape[0], tuple(first.shape[-2:])
        for i in images:
            _check_image(flat[i], batch, sizes)
        box_leaves = [i for i, leaf in enumerate(flat)
                      if isinstance(leaf, tv_tensors.BoundingBoxes)]
        detection = _detection_targets(flat, paths, box_leaves, batch, sizes)
        if detection.samples and self.mixer._family():
            raise TypeError(
                "detection targets (boxes and the tensors beside them) follow a Mixer of "
                f"MixUp and CutMix here, and this Mixer also draws {self.mixer._family()}: "
                "mix such targets with arraymix.paste_boxes (and paste_points) on the "
                "Mixer's draw, padded to (B, N, 4)"
            )
        taken = set(images) | detection.taken
        labels_at = None if detection.samples else self._labels_index(sample, flat, taken)
        targets = None
        if labels_at is not None:
            mixer = self.mixer
            targets = check_targets(first, flat[labels_at], mixer.num_classes,
                                    mixer.label_smoothing, mixer.union)
        masks = [i for i, leaf in enumerate(flat)
                 if isinstance(leaf, tv_tensors.Mask) and i not in taken]
        for i in masks:
            _check_mask(flat[i], batch)

        p = self.mixer.draw(batch, sizes, xp=namespace(first), device=first.device)
        out = list(flat)
        for i in images:
            out[i] = tv_tensors.wrap(_plain(_mix(flat[i], p)), like=flat[i]) \
                if isinstance(flat[i], tv_tensors.TVTensor) else _mix(flat[i], p)
        if labels_at is not None:
            out[labels_at] = draw_targets(select(first), targets, p.lam, p.perm, p.parts,
                                          _groups(self.mixer))
        for i in masks:
            out[i] = tv_tensors.wrap(_paste_grid(_plain(flat[i]), p), like=flat[i])
        if detection.samples:
            detection.apply(out, p, self.min_visible)
        return pytree.tree_unflatten(out, spec)

    def _labels_index(self, sample: Any, flat: list[Any], taken: set[int]) -> int | None:
        """The position among the leaves of the class labels, or None."""
        if self.labels_getter is None:
            return None
        found = (_default_labels(sample) if self.labels_getter == "default"
                 else self.labels_getter(sample))  # type: ignore[operator]
        if found is None:
            return None
        if not isinstance(found, torch.Tensor):
            raise ValueError(f"the labels must be a tensor, got {type(found).__name__}")
        for i, leaf in enumerate(flat):
            if leaf is found:
                return None if i in taken else i  # a lone batch is its images, not labels
        raise ValueError("labels_getter returned a tensor that is not one of the inputs")


class MixUp(MixerTransform):
    """torchvision's ``v2.MixUp``, by arraymix: every batch blended.

    Parameters
    ----------
    alpha : float, default 1.0
        λ ~ Beta(α, α).
    num_classes : int, optional
        The width of the one-hot rows made from class ids; None for soft labels.
    labels_getter : "default", callable or None, default "default"
        As in :class:`MixerTransform`.
    label_smoothing : float, default 0.0
        Smoothing of the one-hot rows.
    lam_mode : {"batch", "sample", "pair"}, default "batch"
        One λ per batch, per sample or per pair of partners.
    pairing : {"permute", "derange", "flip", "roll"}, default "permute"
        Who mixes with whom (torchvision's ``v2.MixUp`` rolls: ``"roll"``).
    union : bool, default False
        Multi-label targets combined by elementwise maximum.
    seed : int or sequence of int, optional
        The stream of draws; None draws fresh entropy.

    Examples
    --------
    >>> import torch
    >>> from arraymix.torchvision import MixUp
    >>> x, y = MixUp(num_classes=10, seed=0)(torch.rand(4, 3, 8, 8), torch.arange(4))
    >>> tuple(y.shape), bool(torch.allclose(y.sum(1), torch.ones(4)))
    ((4, 10), True)
    """

    def __init__(self, *, alpha: float = 1.0, num_classes: int | None = None,
                 labels_getter: str | LabelsGetter | None = "default",
                 label_smoothing: float = 0.0, lam_mode: str = "batch",
                 pairing: str = "permute", union: bool = False,
                 seed: int | Sequence[int] | None = None) -> None:
        alpha = check_real(alpha, "alpha", low=0.0, high=math.inf, low_open=True,
                           high_open=True)
        mixer = Mixer(mixup_alpha=alpha, cutmix_alpha=0.0, prob=1.0,
                      lam_mode=lam_mode,  # type: ignore[arg-type]  # checked by the Mixer
                      pairing=pairing,  # type: ignore[arg-type]
                      label_smoothing=label_smoothing, num_classes=num_classes, seed=seed,
                      union=check_bool(union, "union"))
        super().__init__(mixer, labels_getter=labels_getter)


class CutMix(MixerTransform):
    """torchvision's ``v2.CutMix``, by arraymix: every batch pasted.

    Parameters
    ----------
    alpha : float, default 1.0
        The kept fraction λ ~ Beta(α, α) sets the box's size.
    num_classes : int, optional
        The width of the one-hot rows made from class ids; None for soft labels.
    labels_getter : "default", callable or None, default "default"
        As in :class:`MixerTransform`.
    minmax : (float, float), optional
        Box sides uniform between these fractions of the height and width
        instead of from λ.
    correct_lam : bool, default True
        λ is the fraction kept after the box is clipped to the image.
    label_smoothing : float, default 0.0
        Smoothing of the one-hot rows.
    lam_mode : {"batch", "sample", "pair"}, default "batch"
        One box per batch, per sample or per pair of partners.
    pairing : {"permute", "derange", "flip", "roll"}, default "permute"
        Who mixes with whom (torchvision's ``v2.CutMix`` rolls: ``"roll"``).
    union : bool, default False
        Multi-label targets combined by elementwise maximum.
    seed : int or sequence of int, optional
        The stream of draws; None draws fresh entropy.
    min_visible : float, default 0.1
        As in :func:`arraymix.paste_boxes`.

    Examples
    --------
    >>> import torch
    >>> from torchvision import tv_tensors
    >>> from arraymix.torchvision import CutMix
    >>> images = tv_tensors.Image(torch.rand(2, 3, 16, 16))
    >>> boxes = [tv_tensors.BoundingBoxes([[1, 1, 8, 8]], format="XYXY", canvas_size=(16, 16))
    ...          for _ in range(2)]
    >>> targets = [{"boxes": b, "labels": torch.tensor([3])} for b in boxes]
    >>> x, t = CutMix(seed=0)(images, targets)
    >>> type(t[0]["boxes"]).__name__, t[0]["boxes"].shape[0] == t[0]["labels"].shape[0]
    ('BoundingBoxes', True)
    """

    def __init__(self, *, alpha: float = 1.0, num_classes: int | None = None,
                 labels_getter: str | LabelsGetter | None = "default",
                 minmax: Sequence[float] | None = None, correct_lam: bool = True,
                 label_smoothing: float = 0.0, lam_mode: str = "batch",
                 pairing: str = "permute", union: bool = False,
                 seed: int | Sequence[int] | None = None,
                 min_visible: float = MIN_VISIBLE) -> None:
        alpha = check_real(alpha, "alpha", low=0.0, high=math.inf, low_open=True,
                           high_open=True)
        mixer = Mixer(mixup_alpha=0.0, cutmix_alpha=alpha, cutmix_minmax=minmax, prob=1.0,
                      lam_mode=lam_mode,  # type: ignore[arg-type]  # checked by the Mixer
                      pairing=pairing,  # type: ignore[arg-type]
                      correct_lam=correct_lam, label_smoothing=label_smoothing,
                      num_classes=num_classes, seed=seed, union=check_bool(union, "union"))
        super().__init__(mixer, labels_getter=labels_getter, min_visible=min_visible)


def _plain(t: torch.Tensor) -> torch.Tensor:
    """The tensor without its tv_tensor class (arraymix works on plain tensors)."""
    return t.as_subclass(torch.Tensor) if isinstance(t, tv_tensors.TVTensor) else t


def _mix(x: torch.Tensor, p: MixerParams) -> Any:
    return mix(_plain(x), p)


def _paste_grid(m: torch.Tensor, p: MixerParams) -> Any:
    """``m`` pasted with the draw's boxes, rescaled to its own (h, w)."""
    grid = tuple(m.shape[-2:])
    q = p if grid == p.sizes else p.rescaled(grid)
    return paste(m, q)


def _groups(mixer: Mixer) -> int:
    return 1 if mixer.groups is None else int(mixer.groups)


def _refuse_unsupported(flat: list[Any]) -> None:
    import PIL.Image
    for leaf in flat:
        if isinstance(leaf, PIL.Image.Image):
            raise TypeError(
                "the mixing transforms take batches: convert PIL images to tensors and "
                "batch them first (v2.ToImage() in the dataset, a DataLoader to batch)"
            )
        if type(leaf).__name__ == "KeyPoints" and isinstance(leaf, tv_tensors.TVTensor):
            raise TypeError(
                "tv_tensors.KeyPoints are not mixed by these transforms: pad them to "
                "(B, N, 2) and use arraymix.paste_points with the Mixer's draw"
            )


def _image_leaves(flat: list[Any]) -> list[int]:
    """The images to mix, as torchvision picks them: every Image and Video, or
    else the first plain tensor."""
    found = [i for i, leaf in enumerate(flat)
             if isinstance(leaf, (tv_tensors.Image, tv_tensors.Video))]
    if found:
        return found
    for i, leaf in enumerate(flat):
        if isinstance(leaf, torch.Tensor) and not isinstance(leaf, tv_tensors.TVTensor):
            return [i]
    raise ValueError("no images found: pass a batch as a tv_tensors.Image, Video or tensor")


def _check_image(x: torch.Tensor, batch: int, sizes: tuple[int, ...]) -> None:
    rank = 5 if isinstance(x, tv_tensors.Video) else 4
    if x.ndim != rank:
        what = "videos (B, T, C, H, W)" if rank == 5 else "images (B, C, H, W)"
        raise ValueError(
            f"the mixing transforms take a batch of {what}; got shape {tuple(x.shape)}"
        )
    if x.shape[0] != batch or tuple(x.shape[-2:]) != sizes:
        raise ValueError(
            f"every image batch must have {batch} samples of {sizes[0]}x{sizes[1]}; got "
            f"shape {tuple(x.shape)}"
        )


def _check_mask(m: torch.Tensor, batch: int) -> None:
    if m.ndim < 3 or m.shape[0] != batch:
        raise ValueError(
            f"a batched tv_tensors.Mask must be (B, ..., h, w) with B = {batch}; got shape "
            f"{tuple(m.shape)} (per-image masks go in each image's target dict, beside "
            "its boxes)"
        )


def _default_labels(sample: Any) -> Any:
    """torchvision's default rule: the second item of a tuple or list, and
    in a dict the entry named "labels" (any case) or else one with "label" in
    its name."""
    if isinstance(sample, (tuple, list)):
        if len(sample) < 2:
            return None
        sample = sample[1]
        if not isinstance(sample, (torch.Tensor, collections.abc.Mapping)):
            raise ValueError(
                "the labels (the second input) must be a tensor of class ids (B,) or soft "
                f"targets (B, C), got {type(sample).__name__}"
            )
    if isinstance(sample, tv_tensors.TVTensor):
        return None  # a mask or another image: no labels
    if isinstance(sample, torch.Tensor):
        return sample
    if isinstance(sample, collections.abc.Mapping):
        keys = [k for k in sample if isinstance(k, str)]
        for k in keys:
            if k.lower() == "labels":
                return sample[k]
        for k in keys:
            if "label" in k.lower():
                return sample[k]
    return None


class _Detection:
    """The per-image detection targets: for each image, its boxes and the
    tensors that follow them (by the key beside the boxes in its dict)."""

    def __init__(self, flat: list[Any]) -> None:
        self.flat = flat  # the input's leaves
        self.samples: list[dict[Any, int]] = []  # per image: key -> leaf index (None: boxes)
        self.semantic: list[int] = []  # per-image 2-D masks, pasted
        self.taken: set[int] = set()

    def apply(self, out: list[Any], p: MixerParams, min_visible: float) -> None:
        flat = self.flat
        boxes = [_as_xyxy(flat[s[None]]) for s in self.samples]
        first = boxes[0]
        n = max(b.shape[0] for b in boxes)
        padded = first.new_zeros((len(boxes), n, 4))
        counts = torch.tensor([b.shape[0] for b in boxes], device=first.device)
        for i, b in enumerate(boxes):
            padded[i, : b.shape[0]] = b
        slots = torch.arange(n, device=first.device)
        area_ok = (padded[..., 2] > padded[..., 0]) & (padded[..., 3] > padded[..., 1])
        valid = (slots < counts[:, None]) & area_ok
        new_boxes, new_valid = paste_boxes(padded, valid, p, min_visible=min_visible)
        perm = p.perm.tolist()  # the lengths below depend on the draw: read it once
        kept = new_valid.cpu()
        for i, s in enumerate(self.samples):
            j = perm[i]
            own, theirs = kept[i, : boxes[i].shape[0]], kept[i, n: n + boxes[j].shape[0]]
            both = torch.cat([new_boxes[i, : boxes[i].shape[0]][own.to(first.device)],
                              new_boxes[i, n: n + boxes[j].shape[0]][theirs.to(first.device)]])
            box = flat[s[None]]
            xyxy = tv_tensors.wrap(both, like=box, format=tv_tensors.BoundingBoxFormat.XYXY)
            out[s[None]] = tvf.convert_bounding_box_format(xyxy, new_format=box.format)
            partner = self.samples[j]  # with the same keys (checked before the draw)
            for key, at in s.items():
                if key is None:
                    continue
                mine, other = flat[at], flat[partner[key]]
                if isinstance(mine, tv_tensors.Mask):  # instance masks: the seen part
                    mine, other = _instance_masks(mine, other, p, i)
                joined = torch.cat([_plain(mine)[own.to(mine.device)],
                                    _plain(other)[theirs.to(other.device)]])
                out[at] = (tv_tensors.wrap(joined, like=flat[at])
                           if isinstance(flat[at], tv_tensors.TVTensor) else joined)
        if self.semantic:
            stacked = torch.stack([_plain(flat[i]) for i in self.semantic])
            pasted = _paste_grid(stacked, p)
            for k, i in enumerate(self.semantic):
                out[i] = tv_tensors.wrap(pasted[k], like=flat[i])


def _as_xyxy(box: tv_tensors.BoundingBoxes) -> torch.Tensor:
    xyxy = tv_tensors.BoundingBoxFormat.XYXY
    return _plain(tvf.convert_bounding_box_format(box, new_format=xyxy))


def _instance_masks(mine: torch.Tensor, other: torch.Tensor, p: MixerParams,
                    i: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample ``i``'s instance masks and its partner's, each cut to what
    sample ``i``'s image shows of it: its own outside the pasted box, the
    partner's inside it (the whole of both for a MixUp sample)."""
    h, w = mine.shape[-2:]
    q = p if (h, w) == p.sizes else p.rescaled((h, w))
    ys = torch.arange(h, device=mine.device)
    xs = torch.arange(w, device=mine.device)
    lo, hi = q.lower[i].to(mine.device), q.upper[i].to(mine.device)
    inside = (((ys >= lo[0]) & (ys < hi[0]))[:, None]) & (((xs >= lo[1]) & (xs < hi[1]))[None, :])
    zero = torch.zeros((), dtype=mine.dtype, device=mine.device)
    whole = q.method[i].to(mine.device) == 1
    own = torch.where(inside, zero, _plain(mine))
    theirs = torch.where(inside | whole, _plain(other), zero)
    return own, theirs


def _detection_targets(flat: list[Any], paths: list[Any], box_leaves: list[int], batch: int,
                       sizes: tuple[int, ...]) -> _Detection:
    """Group the leaves of per-image detection targets: one BoundingBoxes
    per image, and the tensors beside it in its dict."""
    d = _Detection(flat)
    if not box_leaves:
        return d
    if len(box_leaves) != batch:
        raise ValueError(
            f"detection targets must give one tv_tensors.BoundingBoxes (N_i, 4) per image: "
            f"{batch} images, {len(box_leaves)} BoundingBoxes"
        )
    parents = [tuple(paths[i][:-1]) for i in box_leaves]
    if len(set(parents)) != len(parents):
        raise ValueError("each image's BoundingBoxes must sit in a dict of its own")
    for i in box_leaves:
        box = flat[i]
        name = box.format.name
        if name not in _AXIS_ALIGNED:
            raise ValueError(
                f"boxes in format {name} are not axis-aligned rectangles: the mixing "
                f"transforms take {', '.join(_AXIS_ALIGNED)}"
            )
        if box.ndim != 2 or tuple(box.canvas_size) != sizes:
            raise ValueError(
                f"each image's BoundingBoxes must be (N_i, 4) on the images' canvas {sizes}; "
                f"got shape {tuple(box.shape)} on canvas {tuple(box.canvas_size)}"
            )
    for i, parent in zip(box_leaves, parents, strict=False):
        count = flat[i].shape[0]
        entry: dict[Any, int] = {None: i}
        semantic = None
        for j, path in enumerate(paths):
            leaf = flat[j]
            if j == i or tuple(path[:-1]) != parent or not isinstance(leaf, torch.Tensor):
                continue
            if isinstance(leaf, tv_tensors.Mask) and leaf.ndim == 2:
                semantic = j
            elif leaf.ndim >= 1 and leaf.shape[0] == count:
                entry[path[-1]] = j
            elif isinstance(leaf, tv_tensors.Mask):
                raise ValueError(
                    f"an image's instance masks must be (N_i, h, w) with one mask per box "
                    f"({count}); got shape {tuple(leaf.shape)}"
                )
        d.samples.append(entry)
        if semantic is not None:
            d.semantic.append(semantic)
        d.taken |= set(entry.values()) | ({semantic} if semantic is not None else set())
    keys = set(d.samples[0])
    for i, entry in enumerate(d.samples):
        if set(entry) != keys:
            names = sorted(str(k) for k in keys ^ set(entry))
            raise ValueError(
                f"every image's target must carry the same tensors beside its boxes: image "
                f"{i} differs from image 0 in {names}"
            )
    if d.semantic and len(d.semantic) != batch:
        raise ValueError("a semantic mask beside some images' boxes must be beside all of them")
    return d
