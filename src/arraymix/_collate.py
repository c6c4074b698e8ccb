"""Collating and mixing in one pass: the samples a DataLoader hands its
``collate_fn`` written straight into the mixed batch.

Stacking the samples and then mixing the batch writes the batch twice and
reads it three times. Here each sample of the batch is written once, from
its own sample and its partner's, with the arithmetic of the host walk
(:mod:`._backends.walk`), so the batch equals what stacking and mixing
give: the reference's roundings on NumPy and for integers, one ``lerp`` a
sample for torch floats, as torch's own host paths blend. A small batch
(which the backends blend whole) is stacked and then mixed: there is no
traffic to save, and the backend's own arithmetic is the same either way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._backends import reuse
from ._backends.compiled import blend_into
from ._backends.reference import ctype_of
from ._backends.threads import threads_for
from ._backends.tuning import current
from ._backends.walk import (
    Ops,
    _pieces,
    _weights,
    cycles,
    fresh_torch,
    host_list,
    int_walk,
    piece_of,
)
from ._compat import (
    Array,
    is_numpy_array,
    is_torch_array,
    isdtype,
    namespace,
    numpy_twins,
    torch_module,
)
from ._params import CutMixParams, MixerParams, MixParams
from ._validate import check_axes

__all__ = ["HostPlan", "broadcast_view", "check_compiled", "check_samples", "collate",
           "host_plan", "plan_of_draw", "small_batch", "split_items", "stack_labels",
           "write_batch", "written"]


def check_samples(samples: Any, name: str = "samples") -> list[Array]:
    """A non-empty sequence of host arrays of one library, shape and dtype:
    NumPy arrays, or torch tensors on the CPU."""
    if isinstance(samples, (str, bytes)) or not isinstance(samples, Sequence):
        raise TypeError(f"{name} must be a list of arrays, got {type(samples).__name__}")
    if not samples:
        raise ValueError(f"{name} must hold at least one sample, got none")
    first = samples[0]
    if not (is_numpy_array(first) or (is_torch_array(first) and first.device.type == "cpu")):
        where = f" on {first.device}" if is_torch_array(first) else ""
        raise TypeError(
            f"{name} must be NumPy arrays or torch tensors in host memory (what a DataLoader "
            f"collates), got {type(first).__name__}{where}"
        )
    kind, shape, dtype = type(first), tuple(first.shape), first.dtype
    for i, s in enumerate(samples):
        if type(s) is not kind and not (is_torch_array(s) and is_torch_array(first)):
            raise TypeError(
                f"{name}[{i}] is {type(s).__name__}, {name}[0] {kind.__name__}: the samples of "
                "a batch must come from one library"
            )
        if is_torch_array(s) and (s.device.type != "cpu" or s.requires_grad):
            raise ValueError(
                f"{name}[{i}] must be a tensor in host memory without autograd, got one on "
                f"{s.device}{' that requires grad' if s.requires_grad else ''}"
            )
        if tuple(s.shape) != shape or s.dtype != dtype:
            raise ValueError(
                f"{name}[{i}] has shape {tuple(s.shape)} and dtype {s.dtype}, {name}[0] "
                f"{shape} and {dtype}: the samples of a batch must have one shape and dtype"
            )
    return list(samples)


def check_compiled(compiled: Any) -> bool:
    """The collate's ``compiled``: a bool, and True only where torch is."""
    if not isinstance(compiled, bool):
        raise TypeError(f"compiled must be a bool, got {type(compiled).__name__}")
    if compiled:
        try:
            import torch  # noqa: F401  (asked for: the blend is compiled with it)
        except ImportError:
            raise ImportError("compiled=True compiles the blend with torch.compile: install "
                              "PyTorch, or leave compiled False") from None
    return compiled


def collate(samples: Sequence[Array], params: MixParams | CutMixParams | MixerParams, /, *,
            axes: Sequence[int] = (-2, -1), compiled: bool = False) -> Array:
    """Stack host samples into a batch mixed by ``params``, in one pass.

    The same batch as ``mix(stack(samples), params, axes=axes)``, written
    without the stacked copy: each sample of the result is made once from
    the sample and its partner. For a DataLoader's ``collate_fn``, where
    the samples arrive as a list (:meth:`Mixer.collate` also mixes their
    labels).

    Parameters
    ----------
    samples : sequence of arrays
        ``B`` NumPy arrays, or ``B`` torch tensors in host memory, of one
        shape and dtype: the samples, without a batch axis.
    params : MixParams, CutMixParams or MixerParams
        For a batch of ``B``, in the samples' library (or NumPy), on the
        host: a MixUp, a CutMix or a :class:`Mixer`'s draw. A draw with
        the family's methods (``parts``) is applied to the stacked batch
        by :func:`mix`.
    axes : sequence of int, default (-2, -1)
        The cut axes of the batch (as in :func:`paste`): ``(-2, -1)`` for
        CHW samples, ``(1, 2)`` for HWC.
    compiled : bool, default False
        Blend integer samples (uint8 images) with torch's own CPU code
        generation: ``torch.compile`` (inductor) makes the blend one loop
        over the stacked samples, several times faster than the eager
        passes, with the same values. Needs PyTorch and a C++ compiler;
        NumPy samples are blended through zero-copy tensors and come back
        as NumPy. The first batch of each dtype compiles (seconds; a forked
        DataLoader worker shares what its parent compiled). Floating
        samples, draws with the family's methods and batches small enough
        to be blended whole are mixed as without it.

    Returns
    -------
    array
        The mixed batch ``(B, *sample.shape)``, in the samples' library and dtype.

    Examples
    --------
    >>> import numpy as np
    >>> import arraymix
    >>> samples = [np.full((3, 4, 4), i, dtype=np.uint8) for i in range(4)]
    >>> p = arraymix.sample_mixup(0, 4, alpha=1.0)
    >>> x = arraymix.collate(samples, p)
    >>> bool((x == arraymix.mix(np.stack(samples), p)).all())
    True
    """
    samples = check_samples(samples)
    compiled = check_compiled(compiled)
    batch = len(samples)
    axes = check_axes(axes, samples[0].ndim + 1, shape=(batch, *samples[0].shape),
                      drawn=False)
    parts = isinstance(params, MixerParams) and params.parts
    plan = None if parts else host_plan(params, batch, len(axes))  # checks them
    if plan is None or small_batch(samples):
        from ._apply import mix

        batch_x = stack_samples(samples)
        mixed: Array = mix(batch_x, _in_library_of(params, samples[0]), axes=axes,
                           out=batch_x)
        return mixed
    return written(samples, plan, axes, compiled)


def written(samples: list[Array], plan: HostPlan, axes: tuple[int, ...], compiled: bool
            ) -> Array:
    """The mixed batch: by :func:`compiled_batch` where asked and it applies
    (integer samples, some blended), else by :func:`write_batch`."""
    first = samples[0]
    if (compiled and any(m == 1 for m in plan.method)
            and isdtype(namespace(first), first.dtype, "integral")):
        return compiled_batch(samples, plan, axes)
    return write_batch(samples, plan, axes)


class HostPlan:
    """Per sample, on the host: the method (0 copied, 1 blended, 2 pasted),
    λ of the blend, the partner and the box."""

    def __init__(self, method: list[int], lam: Any, perm: list[int],
                 lower: list[list[int]], upper: list[list[int]]) -> None:
        self.method, self.lam, self.perm = method, lam, perm
        self.lower, self.upper = lower, upper


def host_plan(params: Any, batch: int, k: int) -> HostPlan:
    """What each sample takes, read from checked-shape params on the host."""
    if not isinstance(params, (MixParams, CutMixParams, MixerParams)):
        raise TypeError(
            "params must be MixParams, CutMixParams or MixerParams (from sample_mixup, "
            f"sample_cutmix or Mixer.draw), got {type(params).__name__}"
        )
    for field in params._fields:
        value = getattr(params, field)
        if field not in ("sizes", "parts") and not (is_numpy_array(value) or (
                is_torch_array(value) and value.device.type == "cpu")):
            raise TypeError(
                f"params.{field} must be on the host (NumPy or a CPU tensor) to collate host "
                f"samples, got {type(value).__name__}"
            )
    perm = _ints(params.perm, "params.perm", (batch,))
    if sorted(perm) != list(range(batch)):
        raise ValueError("params.perm must be a permutation of the batch's indices")
    if isinstance(params, MixerParams):
        method = _ints(params.method, "params.method", (batch,))
        lam = params.blend_lam
        lower = _ints(params.lower, "params.lower", (batch, k))
        upper = _ints(params.upper, "params.upper", (batch, k))
    elif isinstance(params, CutMixParams):
        method, lam = [2] * batch, None
        lo, hi = params.bounds()
        lower = _ints(lo, "params.lower", (batch, k))
        upper = _ints(hi, "params.upper", (batch, k))
    else:
        method, lam, lower, upper = [1] * batch, params.lam, [[]] * batch, [[]] * batch
    if lam is not None and tuple(lam.shape) not in ((), (batch,)):
        raise ValueError(f"params.lam must have shape () or ({batch},), got {tuple(lam.shape)}")
    return HostPlan(method, lam, perm, lower, upper)


def _ints(a: Any, name: str, shape: tuple[int, ...]) -> Any:
    if tuple(a.shape) != shape:
        raise ValueError(f"{name} must have shape {shape} for this batch, got {tuple(a.shape)}")
    values: Any = host_list(a)
    return values


def write_batch(samples: list[Array], plan: HostPlan, axes: tuple[int, ...]) -> Array:
    """The mixed batch, each sample written once (see the module's docstring)."""
    first = samples[0]
    batch = len(samples)
    torch = torch_module() if is_torch_array(first) else None
    if torch is None:
        result = target = reuse.host_empty((batch, *first.shape), first.dtype)
    else:
        result = target = _torch_batch(torch, first, batch)
        if (not first.is_floating_point() and first.dtype in numpy_twins(torch)
                and all(s.is_contiguous() for s in samples)):
            # integers: NumPy's loops on the tensors' memory, as the torch
            # backend's walk blends them (the same roundings)
            samples = [s.numpy() for s in samples]
            target, first, torch = result.numpy(), samples[0], None
    threads = threads_for(result)
    xp = namespace(first)
    ops = Ops(target)
    ctype = ctype_of(xp, first.dtype)
    exact = ctype == first.dtype
    blends = any(m == 1 for m in plan.method)
    lam_l: list[Any] = []
    om_l: list[Any] = []
    if blends and plan.lam is not None:
        lam = plan.lam
        if torch is not None and is_numpy_array(lam):
            lam = torch.from_numpy(np.ascontiguousarray(lam))
        elif torch is None and is_torch_array(lam):
            lam = lam.numpy()
        lam_l, om_l = _weights(lam, ctype, batch)
    pieces = _pieces(target, piece_of(target, current())) if torch is None else []
    part = target[0][pieces[0][0]] if pieces else target[0, ...]
    tmp = acc = None
    if blends:
        tmp = ops.empty(part, dtype=None if exact else ctype)
        acc = None if exact else ops.empty(part, dtype=ctype)
    lerp = torch is not None and exact
    # integers on NumPy's loops: the blended samples walk their cycles
    # piece by piece (each piece converted once), after the rest
    int_walk_rows = ({i for i, m in enumerate(plan.method) if m == 1}
                     if blends and torch is None and ops.rounds else None)
    # along the permutation's cycles: a sample is read as its predecessor's
    # partner just before its own turn, so the second read finds it in cache
    for i in (i for cycle in cycles(plan.perm) for i in cycle):
        a, dst, m = samples[i], target[i, ...], plan.method[i]
        if m == 1 and int_walk_rows is not None:
            continue
        if m == 1:
            b = samples[plan.perm[i]]
            if lerp:
                torch.lerp(a, b, om_l[i], out=dst)  # type: ignore[union-attr]
            elif not pieces:
                ops.blend(a, b, lam_l[i], om_l[i], dst, tmp, acc)
            else:
                for s, t in pieces:
                    ops.blend(a[s], b[s], lam_l[i], om_l[i], dst[s], tmp[t],  # type: ignore[index]
                              None if acc is None else acc[t])
            continue
        ops.copy(dst, a)
        box = _box(plan, i, axes, a.ndim) if m == 2 else None
        if box is not None:
            ops.copy(dst[box], samples[plan.perm[i]][box])
    if int_walk_rows and tmp is not None:
        int_walk(samples, [target[i, ...] for i in range(batch)], plan.perm, lam_l, om_l,
                 pieces, tmp, int_walk_rows, threads)
    return result


def _box(plan: HostPlan, i: int, axes: tuple[int, ...], ndim: int) -> tuple[Any, ...] | None:
    """Sample ``i``'s CutMix box as an index into a sample, None if empty."""
    box: list[Any] = [slice(None)] * ndim
    for n, ax in enumerate(axes):
        box[ax - 1] = slice(plan.lower[i][n], plan.upper[i][n])
    return tuple(box) if all(s.start < s.stop for s in box if s.start is not None) else None


def compiled_batch(samples: list[Array], plan: HostPlan, axes: tuple[int, ...]) -> Array:
    """The mixed batch of integer samples, its blends done by torch's compiled
    code (:mod:`._backends.compiled`): the samples stacked, the batch blended
    into the result (λ 1 for the samples not blended, which leaves integers
    of up to 32 bits as they are; 64-bit ones are copied again), then the
    CutMix boxes pasted from the stacked samples: :func:`write_batch`'s values."""
    import torch

    first, batch = samples[0], len(samples)
    if not is_torch_array(first):
        x = torch.from_numpy(np.stack(samples))
        result = torch.from_numpy(reuse.numpy_like(x.numpy()))
    else:
        if first.dtype in numpy_twins(torch) and all(s.is_contiguous() for s in samples):
            x = torch.from_numpy(np.stack([s.numpy() for s in samples]))  # NumPy's copies
        else:
            x = fresh_torch(first.expand(batch, *first.shape))
            torch.stack(samples, out=x)
        result = _torch_batch(torch, first, batch)
    lam = np.broadcast_to(np.asarray(host_list(plan.lam), dtype=np.float64), (batch,)).copy()
    lam[np.asarray(plan.method) != 1] = 1.0
    blend_into(x, torch.from_numpy(lam), torch.tensor(plan.perm, dtype=torch.int64), result)
    wide = x.element_size() == 8  # λ = 1 rounds them through float64: copied instead
    for i, m in enumerate(plan.method):
        if m != 1 and wide:
            result[i] = x[i]
        box = _box(plan, i, axes, first.ndim) if m == 2 else None
        if box is not None:
            result[i][box] = x[plan.perm[i]][box]
    return result if is_torch_array(first) else result.numpy()


def _in_library_of(params: Any, first: Array) -> Any:
    """Host params with their NumPy arrays as CPU tensors where the samples
    are tensors (shared memory, not copies), as :func:`mix` takes them."""
    if not is_torch_array(first):
        return params
    torch = torch_module()

    def moved(v: Any) -> Any:
        if isinstance(v, np.ndarray):
            return torch.from_numpy(v if v.flags.c_contiguous else v.copy())
        if isinstance(v, tuple):
            items = [moved(a) for a in v]
            return type(v)(*items) if hasattr(v, "_fields") else tuple(items)
        return v

    return moved(params)


def small_batch(samples: list[Array]) -> bool:
    """Whether the batch of ``samples`` is small enough that the backends
    blend it whole (NumPy's operations, on CPU tensors too): collated by
    stacking, then mixing, with the backend's own arithmetic."""
    return bool(len(samples) * math.prod(samples[0].shape) <= 2 * current().walk_min_sample)


def stack_samples(samples: list[Array]) -> Array:
    """The samples stacked into a new batch of their library (in a torch
    DataLoader worker, in shared memory, as :func:`write_batch` makes it)."""
    first = samples[0]
    torch = torch_module() if is_torch_array(first) else None
    if torch is None:
        return np.stack(samples)
    result = _torch_batch(torch, first, len(samples))
    torch.stack(samples, out=result)
    return result

def split_items(items: Any) -> tuple[list[Any], list[Any] | None]:
    """A DataLoader's list of ``(sample, label)`` pairs (or of bare samples)
    as the samples and the labels."""
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        raise TypeError(
            f"items must be a list of (sample, label) pairs or of samples, got "
            f"{type(items).__name__}"
        )
    if not items:
        raise ValueError("items must hold at least one sample, got none")
    paired = isinstance(items[0], (tuple, list))
    for i, item in enumerate(items):
        if isinstance(item, (tuple, list)) != paired or (paired and len(item) != 2):
            raise ValueError(
                f"items[{i}] must be a (sample, label) pair like items[0]"
                if paired else f"items[{i}] must be a sample like items[0], got a sequence"
            )
    if not paired:
        return list(items), None
    return [item[0] for item in items], [item[1] for item in items]


def stack_labels(labels: list[Any], like: Array) -> Array:
    """The labels as one array of ``like``'s library: Python or NumPy ints
    become class ids, arrays are stacked."""
    torch = torch_module() if is_torch_array(like) else None
    def scalar(v: Any) -> bool:
        return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))

    kind = "torch tensor" if torch is not None else "NumPy array"
    if scalar(labels[0]):
        for i, v in enumerate(labels):
            if not scalar(v):
                raise TypeError(
                    f"label {i} must be an int class id like label 0, got {type(v).__name__}"
                )
        return (torch.tensor(labels, dtype=torch.int64) if torch is not None
                else np.asarray(labels, dtype=np.int64))
    first = labels[0]
    for i, v in enumerate(labels):
        ok = is_torch_array(v) if torch is not None else is_numpy_array(v)
        if not ok or tuple(v.shape) != tuple(first.shape) or v.dtype != first.dtype:
            shape = f" of shape {tuple(v.shape)}" if hasattr(v, "shape") else ""
            raise TypeError(
                f"label {i} must be an int class id, or a {kind} of label 0's shape and "
                f"dtype; got {type(v).__name__}{shape}"
            )
    if torch is not None:
        return torch.stack([v.cpu() for v in labels])
    return np.stack(labels)


def plan_of_draw(p: MixerParams) -> HostPlan:
    """A Mixer's draw, already checked, as the host plan."""
    return HostPlan(host_list(p.method), p.blend_lam, host_list(p.perm), host_list(p.lower),
                    host_list(p.upper))


def broadcast_view(sample: Array, batch: int) -> Array:
    """A batch-shaped view of one sample, made without copying: what the
    collated batch's checks read (library, device, dtype, shape)."""
    if is_torch_array(sample):
        view: Array = sample.expand(batch, *sample.shape)
        return view
    return np.broadcast_to(sample, (batch, *sample.shape))


def _torch_batch(torch: Any, first: Array, batch: int) -> Array:
    """A new batch for torch samples. In a DataLoader worker it is made in
    shared memory, as torch's default collate makes it, so that sending it
    to the main process moves no data; elsewhere on huge pages where large."""
    info = torch.utils.data.get_worker_info()
    new_shared = getattr(first.untyped_storage(), "_new_shared", None)
    if info is None or new_shared is None:
        return fresh_torch(first.expand(batch, *first.shape))
    storage = new_shared(batch * first.numel() * first.element_size())
    return torch.empty((0,), dtype=first.dtype).set_(storage).view(batch, *first.shape)
