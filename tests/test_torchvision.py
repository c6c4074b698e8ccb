"""The torchvision v2 transforms (arraymix.torchvision): images, labels,
masks and per-image detection targets, against float64 NumPy references
computed from the same draw (a twin Mixer with the same seed)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import arraymix
from reference import ref_blend, ref_one_hot, ref_paste

try:  # a torchvision built for another torch raises more than ImportError
    import torch
    from torchvision import tv_tensors
    from torchvision.transforms import v2
    from torchvision.transforms.v2 import functional as tvf

    from arraymix.torchvision import CutMix, MixerTransform, MixUp
except Exception as e:
    pytest.skip(f"torchvision v2 is not usable here: {e!r}", allow_module_level=True)

SETTINGS = {
    "mixup": {"mixup_alpha": 1.0, "cutmix_alpha": 0.0},
    "cutmix": {"mixup_alpha": 0.0, "cutmix_alpha": 1.0},
    "mixer": {"mixup_alpha": 1.0, "cutmix_alpha": 1.0, "prob": 0.8, "switch_prob": 0.5},
}


def twins(kind, **kw):
    """The transform and a Mixer in the same state, whose draw the reference uses."""
    return (MixerTransform(arraymix.Mixer(**SETTINGS[kind], **kw)),
            arraymix.Mixer(**SETTINGS[kind], **kw))


def host(p):
    return {name: np.asarray(getattr(p, name)) for name in
            ("lam", "perm", "lower", "upper", "blend_lam", "method")}


def ref_images(x, d):
    """Per sample: left alone, blended with its λ, or pasted with its box."""
    x = np.asarray(x, dtype=np.float64)
    blended = ref_blend(x, d["blend_lam"], d["perm"])
    pasted = ref_paste(x, d["perm"], d["lower"], d["upper"], (-2, -1))
    m = d["method"].reshape((-1,) + (1,) * (x.ndim - 1))
    return np.where(m == 2, pasted, np.where(m == 1, blended, x))


def ref_rescaled(b, n, m):
    """A bound b drawn for length m on a grid of length n: round(b n / m), halves up."""
    return (2 * b * n + m) // (2 * m)


@settings(max_examples=25, deadline=None)
@given(kind=st.sampled_from(list(SETTINGS)), lam_mode=st.sampled_from(["batch", "sample"]),
       batch=st.integers(1, 6), seed=st.integers(0, 2**32 - 1), wrap=st.booleans(),
       smoothing=st.sampled_from([0.0, 0.1]))
def test_images_labels_and_masks_follow_one_draw(kind, lam_mode, batch, seed, wrap, smoothing):
    gen = np.random.default_rng(seed)
    x = torch.from_numpy(gen.random((batch, 3, 12, 16), dtype=np.float32))
    ids = torch.from_numpy(gen.integers(0, 5, size=batch))
    masks = torch.from_numpy(gen.integers(0, 4, size=(batch, 6, 8)).astype(np.uint8))
    images = tv_tensors.Image(x) if wrap else x
    t, twin = twins(kind, lam_mode=lam_mode, num_classes=5, label_smoothing=smoothing,
                    seed=seed)
    out, y, m = t(images, ids, tv_tensors.Mask(masks))
    d = host(twin.draw(batch, (12, 16)))

    assert type(out) is type(images)
    assert out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), ref_images(x.numpy(), d), rtol=0, atol=2e-7)
    rows = ref_one_hot(ids.numpy(), 5, smoothing)
    np.testing.assert_allclose(y.numpy(), ref_blend(rows, d["lam"], d["perm"]), atol=1e-6)
    # the mask, at half the resolution, takes the same boxes scaled to its grid
    lower = ref_rescaled(d["lower"], np.array([6, 8]), np.array([12, 16]))
    upper = ref_rescaled(d["upper"], np.array([6, 8]), np.array([12, 16]))
    assert isinstance(m, tv_tensors.Mask)
    assert m.dtype == torch.uint8
    want = ref_paste(masks.numpy(), d["perm"], lower, upper, (-2, -1))
    np.testing.assert_array_equal(m.numpy(), want)


@settings(max_examples=15, deadline=None)
@given(kind=st.sampled_from(list(SETTINGS)), lam_mode=st.sampled_from(["batch", "sample"]),
       seed=st.integers(0, 2**32 - 1))
def test_the_transform_is_the_mixers_call(kind, lam_mode, seed):
    """uint8 images and class ids: the transform gives what the Mixer's own call gives."""
    gen = np.random.default_rng(seed)
    x = torch.from_numpy(gen.integers(0, 256, size=(6, 3, 10, 10), dtype=np.uint8))
    ids = torch.from_numpy(gen.integers(0, 7, size=6))
    t, twin = twins(kind, lam_mode=lam_mode, num_classes=7, seed=seed)
    got = t({"image": tv_tensors.Image(x), "labels": ids})
    out, y = got["image"], got["labels"]
    want_x, want_y = twin(x, ids)
    assert isinstance(out, tv_tensors.Image)
    assert torch.equal(out.as_subclass(torch.Tensor), want_x)
    assert torch.equal(y, want_y)


def test_soft_labels_and_videos():
    gen = np.random.default_rng(3)
    video = tv_tensors.Video(torch.rand(4, 2, 3, 8, 8))
    soft = torch.from_numpy(gen.dirichlet(np.ones(6), size=4).astype(np.float32))
    t = MixUp(alpha=0.4, seed=1)
    out, y = t(video, soft)
    twin = arraymix.Mixer(mixup_alpha=0.4, cutmix_alpha=0.0, label_smoothing=0.0, seed=1)
    d = host(twin.draw(4))
    assert isinstance(out, tv_tensors.Video)
    np.testing.assert_allclose(out.numpy(), ref_blend(video.numpy(), d["lam"], d["perm"]),
                               atol=2e-7)
    np.testing.assert_allclose(y.numpy(), ref_blend(soft.numpy(), d["lam"], d["perm"]),
                               atol=1e-6)


# -- detection: one dict of targets per image ---------------------------------------

def area(b):
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])


def ref_detection(boxes, labels, inst, d, i, frac):
    """Image i's kept boxes (xyxy), labels and instance masks, own first."""
    j, method = int(d["perm"][i]), int(d["method"][i])
    (y0, x0), (y1, x1) = d["lower"][i], d["upper"][i]
    out_b, out_l, out_m = [], [], []
    rect = np.zeros(inst[i].shape[1:], dtype=bool)
    rect[y0:y1, x0:x1] = method == 2
    for k, b in enumerate(boxes[i]):
        under = area([max(b[0], x0), max(b[1], y0), min(b[2], x1), min(b[3], y1)])
        seen = area(b) - (under if method == 2 else 0.0)
        if area(b) > 0 and seen >= frac * area(b):
            out_b.append(b), out_l.append(labels[i][k]), out_m.append(inst[i][k] & ~rect)
    if method:
        for k, b in enumerate(boxes[j]):
            cut = b if method == 1 else [min(max(b[0], x0), x1), min(max(b[1], y0), y1),
                                         min(max(b[2], x0), x1), min(max(b[3], y0), y1)]
            if area(cut) > 0 and area(cut) >= frac * area(b):
                out_b.append(cut), out_l.append(labels[j][k])
                out_m.append(inst[j][k] if method == 1 else inst[j][k] & rect)
    return (np.reshape(np.asarray(out_b, dtype=np.float64), (-1, 4)),
            np.asarray(out_l, dtype=np.int64), out_m)


def random_targets(gen, batch, h, w):
    boxes, labels, inst = [], [], []
    for _ in range(batch):
        n = int(gen.integers(0, 4))
        x0, y0 = gen.integers(0, w - 1, size=n), gen.integers(0, h - 1, size=n)
        x1, y1 = x0 + gen.integers(1, w, size=n), y0 + gen.integers(1, h, size=n)
        b = np.stack([x0, y0, np.minimum(x1, w), np.minimum(y1, h)], -1).astype(np.float32)
        boxes.append(b.reshape(n, 4))
        labels.append(gen.integers(1, 9, size=n))
        inst.append(gen.random((n, h, w)) < 0.5)
    return boxes, labels, inst


@settings(max_examples=25, deadline=None)
@given(kind=st.sampled_from(list(SETTINGS)), lam_mode=st.sampled_from(["batch", "sample"]),
       batch=st.integers(1, 5), seed=st.integers(0, 2**32 - 1),
       fmt=st.sampled_from(["XYXY", "XYWH", "CXCYWH"]), frac=st.sampled_from([0.0, 0.1, 0.5]))
def test_detection_targets_follow_the_pixels(kind, lam_mode, batch, seed, fmt, frac):
    h, w = 12, 16
    gen = np.random.default_rng(seed)
    boxes, labels, inst = random_targets(gen, batch, h, w)
    semantic = gen.integers(0, 5, size=(batch, h, w)).astype(np.uint8)
    images = tv_tensors.Image(torch.rand(batch, 3, h, w))
    targets = []
    for i in range(batch):
        xyxy = tv_tensors.BoundingBoxes(torch.from_numpy(boxes[i]), format="XYXY",
                                        canvas_size=(h, w))
        targets.append({
            "boxes": tvf.convert_bounding_box_format(xyxy, new_format=fmt),
            "labels": torch.from_numpy(labels[i]),
            "masks": tv_tensors.Mask(torch.from_numpy(inst[i])),
            "segmentation": tv_tensors.Mask(torch.from_numpy(semantic[i])),
            "image_id": torch.tensor(i),
        })
    t, twin = twins(kind, lam_mode=lam_mode, seed=seed)
    t.min_visible = frac
    out, got = t(images, targets)
    d = host(twin.draw(batch, (h, w)))

    np.testing.assert_allclose(out.numpy(), ref_images(images.numpy(), d), atol=2e-7)
    pasted = ref_paste(semantic, d["perm"], d["lower"], d["upper"], (-2, -1))
    for i in range(batch):
        b, lab, masks = ref_detection(boxes, labels, inst, d, i, frac)
        g = got[i]
        assert isinstance(g["boxes"], tv_tensors.BoundingBoxes)
        assert g["boxes"].format.name == fmt
        assert tuple(g["boxes"].canvas_size) == (h, w)
        xyxy = tvf.convert_bounding_box_format(g["boxes"], new_format="XYXY")
        np.testing.assert_allclose(xyxy.numpy(), b, atol=1e-4)
        np.testing.assert_array_equal(g["labels"].numpy(), lab)
        assert isinstance(g["masks"], tv_tensors.Mask)
        np.testing.assert_array_equal(g["masks"].numpy(),
                                      np.reshape(np.asarray(masks, dtype=bool), (-1, h, w)))
        assert isinstance(g["segmentation"], tv_tensors.Mask)
        np.testing.assert_array_equal(g["segmentation"].numpy(), pasted[i])
        assert int(g["image_id"]) == i  # what does not follow the boxes is left alone


def test_in_compose_on_batches_from_a_dataloader():
    class Photos(torch.utils.data.Dataset):
        def __len__(self):
            return 16

        def __getitem__(self, i):
            g = torch.Generator().manual_seed(i)
            return tv_tensors.Image(torch.randint(0, 256, (3, 8, 8), dtype=torch.uint8,
                                                  generator=g)), i % 10

    pipeline = v2.Compose([v2.ToDtype(torch.float32, scale=True),
                           MixUp(num_classes=10, seed=0)])

    def collate(batch):
        return pipeline(*torch.utils.data.default_collate(batch))

    seen = 0
    for x, y in torch.utils.data.DataLoader(Photos(), batch_size=8, collate_fn=collate):
        assert x.shape == (8, 3, 8, 8)
        assert x.dtype == torch.float32
        assert y.shape == (8, 10)
        torch.testing.assert_close(y.sum(1), torch.ones(8))
        assert float(x.min()) >= 0
        assert float(x.max()) <= 1
        seen += 1
    assert seen == 2
    # and batched tv_tensors stay what they are through the pipeline
    images = tv_tensors.Image(torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8))
    x, y = v2.Compose([v2.ToDtype(torch.float32, scale=True),
                       CutMix(num_classes=3, seed=0)])(images, torch.tensor([0, 1, 2, 0]))
    assert isinstance(x, tv_tensors.Image)
    assert x.dtype == torch.float32


def test_functional_calls_follow_torchvisions_return_type():
    """tv_tensors unwrap themselves in every operation unless torchvision is
    told otherwise; arraymix's functions then return what torchvision chose."""
    x = tv_tensors.Image(torch.rand(4, 3, 8, 8))
    p = arraymix.sample_cutmix(torch.Generator().manual_seed(0), 4, (8, 8))
    assert type(arraymix.paste(x, p)) is torch.Tensor
    with tv_tensors.set_return_type("TVTensor"):
        assert type(arraymix.paste(x, p)) is tv_tensors.Image
        assert type(arraymix.mixup(x, rng=0)[0]) is tv_tensors.Image


def _boxes(n=1, fmt="XYXY", canvas=(8, 8)):
    return tv_tensors.BoundingBoxes(torch.tensor([[1.0, 1.0, 5.0, 5.0]] * n), format=fmt,
                                    canvas_size=canvas)


def _call(t, *inputs):
    return lambda: t(*inputs)


IMAGES = tv_tensors.Image(torch.rand(2, 3, 8, 8))
IDS = torch.tensor([0, 1])


@pytest.mark.parametrize(("make", "error", "match"), [
    (lambda: MixerTransform(object()), TypeError, "mixer"),
    (lambda: MixerTransform(arraymix.Mixer(cutmix_axes=(1, 2))), ValueError, "cutmix_axes"),
    (lambda: MixUp(labels_getter="first"), ValueError, "labels_getter"),
    (lambda: CutMix(min_visible=1.5), ValueError, "min_visible"),
    (lambda: MixUp(alpha=0.0), ValueError, "alpha"),
    (lambda: MixUp(pairing="shuffle"), ValueError, "pairing"),
    (lambda: MixUp(num_classes=2)(IMAGES, torch.tensor([0, 2])), ValueError, "num_classes"),
    (lambda: MixUp()(IMAGES, IDS), ValueError, "num_classes"),
    (lambda: MixUp(num_classes=2)(IMAGES[0], IDS[:1]), ValueError, r"\(B, C, H, W\)"),
    (lambda: MixUp(num_classes=2)(IMAGES, tv_tensors.Image(torch.rand(3, 3, 8, 8)), IDS),
     ValueError, "2 samples"),
    (lambda: CutMix()(IMAGES, [{"boxes": _boxes()}]), ValueError, "one tv_tensors"),
    (lambda: CutMix()(IMAGES, [{"boxes": _boxes(canvas=(4, 4))}] * 2), ValueError, "canvas"),
    (lambda: CutMix()(IMAGES, [{"boxes": _boxes(fmt="CXCYWHR")} for _ in range(2)]
                      if hasattr(tv_tensors.BoundingBoxFormat, "CXCYWHR")
                      else [{"boxes": _boxes(canvas=(4, 4))}] * 2), ValueError, "canvas|axis"),
    (lambda: CutMix()(IMAGES, [{"boxes": _boxes(),
                                "masks": tv_tensors.Mask(torch.zeros(3, 8, 8))}] * 2),
     ValueError, "instance masks"),
    (lambda: CutMix()(IMAGES, [{"boxes": _boxes(), "labels": torch.tensor([1])},
                               {"boxes": _boxes()}]), ValueError, "same tensors"),
    (lambda: CutMix()(IMAGES, tv_tensors.Mask(torch.zeros(3, 8, 8))), ValueError,
     "Mask must be"),
    (lambda: MixUp(num_classes=2)(IMAGES, IDS.tolist()), ValueError, "labels"),
])
def test_bad_input_is_named(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_pil_images_and_keypoints_are_refused_with_a_way_out():
    from PIL import Image

    with pytest.raises(TypeError, match="PIL"):
        MixUp(num_classes=2)(Image.new("RGB", (8, 8)), 1)
    if hasattr(tv_tensors, "KeyPoints"):
        points = tv_tensors.KeyPoints(torch.zeros(3, 2), canvas_size=(8, 8))
        with pytest.raises(TypeError, match="paste_points"):
            CutMix()(IMAGES, points)


def test_bad_input_draws_nothing():
    """A refused call leaves the stream where it was: the next call is the
    Mixer's first draw."""
    t, twin = twins("cutmix", seed=4)
    with pytest.raises(ValueError, match="same tensors"):
        t(IMAGES, [{"boxes": _boxes(), "labels": torch.tensor([1])}, {"boxes": _boxes()}])
    x = torch.rand(2, 3, 8, 8)
    assert torch.equal(t(x), twin(x)[0])


def test_a_detection_pipeline_in_compose_from_a_dataloader():
    """Image, per-image BoundingBoxes, labels and Masks from a DataLoader,
    through v2.Compose: every target keeps its type and stays aligned."""
    class Scenes(torch.utils.data.Dataset):
        def __len__(self):
            return 8

        def __getitem__(self, i):
            g = torch.Generator().manual_seed(i)
            n = 1 + i % 3
            xy = torch.randint(0, 20, (n, 2), generator=g).float()
            boxes = torch.cat([xy, xy + 8], 1)
            masks = torch.zeros(n, 32, 32, dtype=torch.bool)
            for k, (x0, y0, x1, y1) in enumerate(boxes.int().tolist()):
                masks[k, y0:y1, x0:x1] = True
            image = tv_tensors.Image(torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8,
                                                   generator=g))
            return image, {"boxes": tv_tensors.BoundingBoxes(boxes, format="XYXY",
                                                             canvas_size=(32, 32)),
                           "labels": torch.randint(1, 5, (n,), generator=g),
                           "masks": tv_tensors.Mask(masks)}

    pipeline = v2.Compose([v2.ToDtype(torch.float32, scale=True),
                           MixerTransform(arraymix.Mixer(lam_mode="sample", seed=0))])

    def collate(batch):
        images, targets = zip(*batch, strict=True)
        return pipeline(tv_tensors.Image(torch.stack(images)), list(targets))

    for images, targets in torch.utils.data.DataLoader(Scenes(), batch_size=4,
                                                       collate_fn=collate):
        assert isinstance(images, tv_tensors.Image)
        assert images.dtype == torch.float32
        for t in targets:
            assert isinstance(t["boxes"], tv_tensors.BoundingBoxes)
            assert isinstance(t["masks"], tv_tensors.Mask)
            assert t["boxes"].shape[0] == t["labels"].shape[0] == t["masks"].shape[0]
            # each kept instance mask lies inside its (possibly clipped) box
            for (x0, y0, x1, y1), m in zip(t["boxes"].tolist(), t["masks"], strict=True):
                ys, xs = torch.nonzero(m, as_tuple=True)
                if len(ys):
                    assert x0 <= int(xs.min())
                    assert int(xs.max()) < x1
                    assert y0 <= int(ys.min())
                    assert int(ys.max()) < y1
