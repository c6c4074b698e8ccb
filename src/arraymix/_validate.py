"""Argument checks: run before any work, each error names the argument.

Everything here reads only Python values, shapes and dtypes, except the
value checks (class ids, partner indices, boxes), which read integer arrays
where that costs no device sync (see :func:`arraymix._compat.host_readable`),
through NumPy: on a CPU tensor a zero-copy view, as a few torch calls on a
small tensor cost several times their NumPy equivalents.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._backends import Reference, select
from ._compat import (
    Array,
    api_revision,
    default_index,
    device,
    dtype_kind,
    host_readable,
    is_array_api_obj,
    is_numpy_array,
    is_torch_array,
    is_writeable_array,
    isdtype,
    namespace,
    namespace_of,
    torch_module,
)

__all__ = ["DEFAULT_AXES", "LAM_MODES", "PAIRINGS", "axes_tuple", "check_alpha", "check_axes",
           "check_batch", "check_bool", "check_box_params", "check_box_values",
           "check_choice", "check_class_ids", "check_coord_values", "check_coords",
           "check_count", "check_grid", "check_grid_params", "check_groups",
           "check_lam_values", "check_minmax", "check_mix_params", "check_out",
           "check_pair_mode", "check_pairing", "check_param", "check_partner",
           "check_perm_values", "check_real", "check_revision", "check_valid", "is_bool",
           "refuse_unsupported"]

LAM_MODES = ("batch", "sample", "pair")
_NP = namespace_of(np)
PAIRINGS = ("permute", "derange", "flip", "roll")


def _kind(obj: Any) -> str:
    return type(obj).__module__.split(".")[0] + "." + type(obj).__qualname__


def _array_hint(obj: Any, name: str) -> str:
    """How to make an array of what was passed instead, where that is known."""
    if isinstance(obj, (list, tuple)):
        return f": pass numpy.asarray({name})"
    if type(obj).__module__.split(".")[0] == "tensorflow":
        return (f": TensorFlow tensors are not array API arrays; pass {name}.numpy(), or "
                "run Keras 3 on its JAX or torch backend")
    return ""


def is_bool(value: Any) -> bool:
    """A Python or NumPy bool, which ``operator.index`` would take as 0 or 1
    (NumPy 2.2 with only a DeprecationWarning)."""
    return isinstance(value, (bool, np.bool_))


def check_real(value: Any, name: str, *, low: float, high: float,
               low_open: bool = False, high_open: bool = False) -> float:
    """A finite real Python number in the given interval, as a float."""
    if type(value) is not float and (isinstance(value, bool)
                                     or not isinstance(value, numbers.Real)):
        raise TypeError(f"{name} must be a real number, got {_kind(value)}")
    v = float(value)
    lo_bad = v <= low if low_open else v < low
    hi_bad = v >= high if high_open else v > high
    # abs(v) < inf: False for inf and NaN, like math.isfinite, which
    # torch.compile cannot trace where floats are symbolic (dynamic=True)
    if not abs(v) < math.inf or lo_bad or hi_bad:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise ValueError(f"{name} must be in {lo}{low:g}, {high:g}{hi}, got {value!r}")
    return v


def check_alpha(alpha: Any, name: str = "alpha", *, allow_zero: bool = False) -> float:
    """A Beta concentration: finite and > 0 (or >= 0 where 0 turns a method off)."""
    return check_real(alpha, name, low=0.0, high=math.inf,
                      low_open=not allow_zero, high_open=True)


def check_minmax(value: Any, name: str = "minmax",
                 what: str = "box side fractions") -> tuple[float, float] | None:
    """None, or the shortest and longest CutMix box side as fractions of
    each cut axis (or other ``what``): two reals with ``0 <= min <= max <= 1``."""
    if value is None:
        return None
    if (isinstance(value, (str, bytes)) or not isinstance(value, Sequence | np.ndarray)
            or (isinstance(value, np.ndarray) and value.ndim != 1)):
        raise TypeError(
            f"{name} must be None or a pair (min, max) of {what}, got {_kind(value)}"
        )
    if len(value) != 2:
        raise ValueError(
            f"{name} must be a pair (min, max) of {what}, got {len(value)} values"
        )
    low = check_real(value[0], f"{name}[0]", low=0.0, high=1.0)
    high = check_real(value[1], f"{name}[1]", low=0.0, high=1.0)
    if low > high:
        raise ValueError(f"{name} must have min <= max, got ({low:g}, {high:g})")
    return low, high


def check_bool(value: Any, name: str) -> bool:
    """A Python bool (not a truthy stand-in)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return value


def check_choice(value: Any, name: str, choices: Sequence[str]) -> Any:
    """``value`` is one of the strings ``choices`` (returned as its Literal type)."""
    if not isinstance(value, str) or value not in choices:
        options = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {options}; got {value!r}")
    return value


#: The largest length of an axis any array library can hold (a signed 64-bit size).
MAX_LENGTH = 2**63 - 1


def check_count(value: Any, name: str, *, minimum: int = 0,
                maximum: int | None = MAX_LENGTH) -> int:
    """A Python integer (or NumPy integer) in ``[minimum, maximum]``: by
    default a length, a number of classes or of groups, which every library
    holds in a signed 64-bit size (``maximum=None`` for seeds)."""
    if is_bool(value):
        raise TypeError(f"{name} must be an int, got bool")
    try:
        n = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, got {_kind(value)}") from None
    if n < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {n}")
    if maximum is not None and n > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {n}")
    return n


def check_pairing(pairing: Any, batch_size: int) -> Any:
    check_choice(pairing, "pairing", PAIRINGS)
    if pairing == "derange" and batch_size == 1:
        raise ValueError(
            "pairing='derange' needs a batch of at least 2 samples (a single "
            "sample has no partner but itself); got batch size 1"
        )
    return pairing


def check_pair_mode(lam_mode: str, pairing: str) -> None:
    """``lam_mode="pair"`` shares the draws between partners, which needs a
    pairing that pairs: sample ``i`` with ``j`` and ``j`` with ``i``."""
    if lam_mode == "pair" and pairing != "flip":
        raise ValueError(
            "lam_mode='pair' gives each pair of partners one λ (and one CutMix box), "
            "which needs samples paired both ways: pairing='flip' (sample i with B-1-i, "
            f"as timm's mode='pair'); got pairing={pairing!r}"
        )


def check_groups(groups: Any, batch_size: int, pairing: str | None = None) -> int:
    """``groups`` divides the batch into equal groups (that ``pairing``, if
    given, can pair in)."""
    if groups is None:
        return 1
    count = check_count(groups, "groups", minimum=1)
    if batch_size % count:
        raise ValueError(
            f"groups={count} must divide the batch size {batch_size} into equal groups"
        )
    if pairing == "derange" and batch_size and batch_size // count < 2:
        raise ValueError(
            f"pairing='derange' needs at least 2 samples per group; groups={count} "
            f"leaves {batch_size // count} of batch size {batch_size}"
        )
    return count


def check_batch(x: Any, name: str = "x", *, bool_ok: bool = False) -> tuple[Reference, int]:
    """``x`` is a real array with a batch axis (or a boolean one, where
    ``bool_ok``: pasting selects, it does no arithmetic): return its backend
    (the one decision of the call, :func:`arraymix._backends.select`) and
    its batch size."""
    if type(x) is np.ndarray and x.ndim and x.dtype.kind in ("fiub" if bool_ok else "fiu"):
        # the common host case, answered without the general checks: an
        # exact ndarray (not a masked array) of a real, integer (or bool) dtype
        return select(x), x.shape[0]
    if not is_array_api_obj(x):
        raise TypeError(
            f"{name} must be an array (NumPy, PyTorch, JAX or another array API "
            f"library), got {_kind(x)}{_array_hint(x, name)}"
        )
    refuse_unsupported(x, name)
    backend = select(x)
    check_revision(backend.xp, name)
    if x.ndim == 0:
        raise ValueError(f"{name} must have a batch axis (ndim >= 1), got a 0-d array")
    kind = dtype_kind(backend.xp, x.dtype)
    if kind not in ("real floating", "integral") and not (bool_ok and kind == "bool"):
        kinds = "real floating, integer or bool" if bool_ok else "real floating or integer"
        raise TypeError(f"{name} must have a {kinds} dtype, got {x.dtype}")
    batch = x.shape[0]
    if batch is None or (isinstance(batch, float) and math.isnan(batch)):
        raise ValueError(f"{name} must have a known batch size (shape[0]), got {batch}")
    return backend, int(batch)


#: The array API revision arraymix needs: 2023.12 brought
#: ``__array_namespace_info__``, which tells each library's default float and
#: index dtypes (every library tested declares 2024.12 or later).
MIN_REVISION = "2023.12"


def check_revision(xp: Any, name: str) -> None:
    """``name``'s library implements the array API :data:`MIN_REVISION` or
    later, by the revision its namespace declares ("YYYY.MM" strings order as
    dates); a TypeError naming it otherwise."""
    revision = api_revision(xp)
    if revision < MIN_REVISION:
        raise TypeError(
            f"{name} comes from a library implementing the array API {revision} "
            f"({xp.__name__}); arraymix needs revision {MIN_REVISION} or later"
        )


def refuse_unsupported(a: Any, name: str) -> None:
    """Arrays that pass as array API arrays but would mix wrongly or fail deep
    inside their library: NumPy masked arrays (arithmetic would blend a masked
    entry's hidden value into its partner's unmasked sample) and torch's sparse
    (non-strided) tensors."""
    if isinstance(a, np.ma.MaskedArray):
        raise TypeError(
            f"{name} must not be a numpy.ma.MaskedArray: mixing would blend the data "
            f"hidden under its mask into the partners' samples. Mix np.ma.getdata({name}) "
            f"(or {name}.filled(value)), and the mask np.ma.getmaskarray({name}) as an "
            "array of its own with the same parameters"
        )
    if is_torch_array(a) and a.layout is not torch_module().strided:
        raise TypeError(
            f"{name} must be a dense (strided) tensor, got layout {a.layout}: pass "
            f"{name}.to_dense()"
        )


def _devices_differ(a: Array, b: Array) -> bool:
    """Known to be on different devices (a traced JAX array has no device)."""
    da, db = device(a), device(b)
    return da is not None and db is not None and da != db


def _joined(x: Array, a: Any, name: str, what: str, hint: str = "") -> Any:
    """``a`` is an array of ``x``'s library on ``x``'s device: their namespace
    (``hint`` ends the message where it is not)."""
    if type(a) is np.ndarray and type(x) is np.ndarray:  # the common host case
        return _NP
    if (type(a) is type(x) and is_torch_array(x) and a.is_cpu and x.is_cpu
            and a.layout is torch_module().strided):  # and the CPU tensors' one
        return namespace(x)
    if not is_array_api_obj(a):
        raise TypeError(f"{name} must be {what}, got {_kind(a)}")
    refuse_unsupported(a, name)
    try:
        xp = namespace(x, a)
    except TypeError:
        raise TypeError(
            f"{name} must come from x's array library: x is {_kind(x)}, {name} is "
            f"{_kind(a)}{hint}"
        ) from None
    if _devices_differ(x, a):
        raise ValueError(
            f"{name} must be on x's device: x is on {device(x)}, {name} on {device(a)}{hint}"
        )
    return xp


def check_partner(x: Array, y: Any, name: str) -> Any:
    """``y`` belongs with ``x``: same library, same device, same batch size."""
    xp = _joined(x, y, name, "an array or None")
    if y.ndim == 0 or y.shape[0] != x.shape[0]:
        raise ValueError(
            f"{name} must have x's batch size {x.shape[0]} on axis 0, got shape "
            f"{tuple(y.shape)}"
        )
    return xp


def check_param(x: Array, a: Any, name: str, shapes: Sequence[tuple[int, ...]],
                kind: str) -> Array:
    """A parameter array: ``x``'s library and device, one of ``shapes``, dtype ``kind``.

    Parameters come from ``sample_*(..., xp=array_namespace(x), device=device(x))``.
    """
    xp = _joined(x, a, name, "an array", "; draw the params for x with sample_mixup(...) "
                 "or sample_cutmix(..., xp=array_namespace(x), device=device(x))")
    found = dtype_kind(xp, a.dtype)
    if tuple(a.shape) not in shapes or not (
            found == kind or (kind == "numeric" and found not in ("bool", "other"))):
        wanted = " or ".join(str(s) for s in shapes)
        what = "an integer" if kind == "integral" else f"a {kind}"
        raise ValueError(
            f"{name} must be {what} array of shape {wanted}, got {a.dtype} of "
            f"shape {tuple(a.shape)}"
        )
    return a


def check_out(x: Array, out: Any) -> None:
    """``out`` can receive the result for ``x``: same kind of array, writeable,
    and either ``x`` itself or not overlapping it."""
    kind = "bool" if isdtype(namespace(x), x.dtype, "bool") else "numeric"
    check_param(x, out, "out", (tuple(x.shape),), kind)
    if out.dtype != x.dtype:
        raise ValueError(f"out must have x's dtype {x.dtype}, got {out.dtype}")
    if (is_torch_array(out) and out.requires_grad and out.is_leaf
            and torch_module().is_grad_enabled()):
        raise ValueError("out must not be a leaf tensor that requires grad while autograd "
                         "records: torch refuses to write into one; pass out=None to get a "
                         "new tensor, or mix inside torch.no_grad()")
    if is_torch_array(out) and _inference_out(out):
        raise ValueError("out must not be an inference tensor outside torch.inference_mode(): "
                         "torch refuses to write into one; pass out=None, or call inside "
                         "inference_mode")
    if is_numpy_array(out) and not out.flags.writeable:
        raise ValueError("out must be writeable; this NumPy array is read-only "
                         "(out.flags.writeable is False)")
    if _self_overlapping(out):
        raise ValueError(
            f"out must give each element its own memory; a stride of 0 (strides "
            f"{_strides(out)}) makes several elements one, as in an expanded or "
            "broadcast view: pass a contiguous buffer"
        )
    if not is_writeable_array(out):
        raise TypeError(
            f"out must be a writeable array; {_kind(out)} arrays are immutable. With "
            "JAX, let XLA reuse x's buffer: jax.jit(fn, donate_argnums=...)"
        )
    if out is not x and _overlap(x, out):
        raise ValueError("out must be x itself or not overlap x's memory")


def _inference_out(out: Array) -> bool:
    """An inference tensor outside inference mode, which torch will not write
    into. Not asked while torch.compile traces (dynamo cannot trace the
    question; the compiled graph reports such a write itself)."""
    torch = torch_module()
    if torch.compiler.is_compiling():
        return False
    return bool(out.is_inference() and not torch.is_inference_mode_enabled())


def _strides(a: Array) -> tuple[int, ...] | None:
    """Element strides of a NumPy array or a torch tensor; None for others."""
    if is_numpy_array(a):
        return tuple(s // a.itemsize for s in a.strides)
    if is_torch_array(a) and a.layout == torch_module().strided:
        strides: tuple[int, ...] = a.stride()
        return strides
    return None


def _self_overlapping(a: Array) -> bool:
    """Whether two elements of ``a`` share memory by a zero stride (what torch
    itself can tell for certain; other layouts that overlap are too rare to
    search for)."""
    if is_numpy_array(a):
        strides = a.strides  # in bytes: zero where the element stride is
    elif is_torch_array(a) and a.layout == torch_module().strided:
        strides = a.stride()
    else:
        return False
    return 0 in strides and any(  # (0 in: the usual answer, fast)
        stride == 0 and n > 1 for stride, n in zip(strides, a.shape, strict=True)
    )


def _overlap(a: Array, b: Array) -> bool:
    """Whether ``a`` and ``b`` may share memory. Under torch.compile storage
    pointers cannot be traced, and need not be: compiled code takes the
    whole-batch path, which computes the result before writing ``out``."""
    if is_numpy_array(a) and is_numpy_array(b):
        return bool(np.may_share_memory(a, b))
    if (is_torch_array(a) and is_torch_array(b) and a.device.type != "meta"
            and not torch_module().compiler.is_compiling()):
        sa, sb = a.untyped_storage(), b.untyped_storage()
        start_a, start_b = sa.data_ptr(), sb.data_ptr()
        return bool(start_a < start_b + sb.nbytes() and start_b < start_a + sa.nbytes())
    return False


def _values(a: Array) -> np.ndarray[Any, Any] | None:
    """The values of ``a`` as a NumPy array where reading them costs no sync
    (a CPU tensor's zero-copy view; bfloat16, which NumPy lacks, as float32);
    None elsewhere or when ``a`` is empty."""
    if type(a) is np.ndarray:
        return a if a.size else None
    if is_torch_array(a):
        torch = torch_module()
        if not (a.is_cpu and a.numel()) or torch.compiler.is_compiling():
            return None
        t = a.detach() if a.requires_grad else a
        if t.dtype is torch.bfloat16:
            t = t.float()
        view: np.ndarray[Any, Any] = t.numpy()
        return view
    if not (math.prod(a.shape) and host_readable(a)):
        return None
    return np.asarray(a)


_UNSIGNED = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
_MAX = np.maximum.reduce  # ndarray.max without its Python wrapper


def _check_in_range(a: Array, stop: int, name: str, what: str, label: str = "") -> bool:
    """Integers of ``a`` in ``[0, stop)`` where reading them costs no sync;
    False where they were not read (device arrays, traces, no values).
    Nothing is formatted before the check: under ``torch.compile`` with
    dynamic shapes ``stop`` may be symbolic."""
    values = _values(a)
    if values is None:
        return False
    size = values.dtype.itemsize
    # one reduction: seen unsigned, a negative value is at least 2**(bits - 1)
    if (values.dtype.kind == "i" and isinstance(stop, int) and stop <= 1 << (8 * size - 1)
            and int(_MAX(values.view(_UNSIGNED[size]), axis=None)) < stop):
        return True
    low, high = int(values.min()), int(values.max())
    if low < 0 or high >= stop:
        raise ValueError(
            f"{name} must hold {what} in [0, {label}{stop}), found values in [{low}, {high}]"
        )
    return True


def check_class_ids(y: Array, num_classes: int, name: str = "y",
                    label: str = "num_classes=") -> None:
    """Class ids in range, where reading them costs no sync; else see one_hot."""
    _check_in_range(y, num_classes, name, "class ids", label)


def check_perm_values(perm: Array, batch: int, groups: int, name: str = "params.perm") -> None:
    """Partner indices: a permutation of ``[0, B)`` that keeps each sample in
    its group, where reading them costs no sync (host arrays); elsewhere they
    are not read (the fused CUDA kernels fold an index into its sample's
    group). A repeated partner would be silently wrong in place, where the
    walk along the permutation's cycles overwrites what it reads later."""
    values = _values(perm)
    if values is None:
        return
    # one count of every index tells range and permutation both: bincount
    # refuses negatives, counts past B lengthen the result, and B indices in
    # range with none repeated leave every count at 1
    try:
        counts = np.bincount(values.astype(np.intp, copy=False), minlength=batch)
    except ValueError:  # a negative index
        counts = None
    if counts is None or len(counts) > batch:
        _check_in_range(perm, batch, name, "sample indices")
    assert counts is not None  # the range check raised otherwise
    # B indices in B bins: all of them hit only if none is hit twice
    if int(np.count_nonzero(counts)) < batch:
        twice = int(np.argmax(counts > 1))
        raise ValueError(
            f"{name} must be a permutation of 0 .. {batch - 1} (each sample the partner "
            f"of exactly one), found sample {twice} as the partner of {int(counts[twice])}"
        )
    if groups > 1:
        n = batch // groups
        if bool(np.any(values // n != np.arange(batch) // n)):
            raise ValueError(
                f"{name} must pair each sample inside its group of {n} (groups={groups}): "
                "draw the params with the same groups"
            )


def check_lam_values(lam: Array, name: str = "params.lam") -> None:
    """Weights in ``[0, 1]`` (no NaN), where reading them costs no sync."""
    values = _values(lam)
    if values is None:
        return
    if values.ndim == 0:  # one weight: compared as a Python float
        low = high = float(values)
    else:
        low, high = float(values.min()), float(values.max())
    if not (low >= 0.0 and high <= 1.0):  # NaN fails both
        raise ValueError(f"{name} must hold weights in [0, 1], found values in [{low}, {high}]")


def check_box_values(lower: Array, upper: Array, sizes: Sequence[int]) -> None:
    """Boxes with ``0 <= lower <= upper <= size`` on each cut axis, where reading
    them costs no sync (host arrays)."""
    low, high = _values(lower), _values(upper)
    if low is None or high is None:
        return
    if bool(((low < 0) | (low > high) | (high > np.asarray(sizes))).any()):
        raise ValueError(
            "params.lower and params.upper must satisfy 0 <= lower <= upper <= the "
            f"length of each cut axis {tuple(sizes)}; found lower in "
            f"[{int(low.min())}, {int(low.max())}] and upper in "
            f"[{int(high.min())}, {int(high.max())}]"
        )


def check_mix_params(x: Array, params: Any, batch: int) -> tuple[Array, Array]:
    """The ``lam`` and ``perm`` of hand-made params for ``x``: arrays of its
    library on its device, of the right shapes and kinds (``perm`` in the
    default index dtype)."""
    if not (hasattr(params, "lam") and hasattr(params, "perm")):
        raise TypeError(
            "params must be MixParams or CutMixParams (from sample_mixup or "
            f"sample_cutmix), got {type(params).__name__}"
        )
    lam = check_param(x, params.lam, "params.lam", ((), (batch,)), "real floating")
    perm = check_param(x, params.perm, "params.perm", ((batch,),), "integral")
    return lam, _as_index(perm)


def _as_index(a: Array) -> Array:
    """Hand-made partners or box bounds of any integer dtype in the default
    index dtype: torch indexes with int32 and int64 only, some libraries'
    ``take`` with int64 only, and the positions a box is compared with are
    made in the bounds' dtype (uint8 ones would wrap past 255)."""
    if type(a) is np.ndarray and a.dtype == np.intp:  # NumPy's own index dtype
        return a
    if is_torch_array(a) and a.dtype is torch_module().int64:  # torch's, on any device
        return a
    xp = namespace(a)
    index = default_index(xp, device(a))
    return a if a.dtype == index else xp.astype(a, index)


def _is_index(a: Any) -> bool:
    """An integer (Python's, NumPy's: anything ``operator.index`` takes), not a bool."""
    if is_bool(a):
        return False
    try:
        operator.index(a)
    except TypeError:
        return False
    return True


class DefaultAxes(tuple[int, ...]):
    """``(-2, -1)`` as the default: told apart from the same axes passed on
    purpose (by type, so a pickled Mixer keeps it), because only the default
    refuses a batch that looks channels-last."""

    __slots__ = ()


#: The default cut axes of :func:`paste`, :func:`~arraymix.cutmix` and the
#: Mixer: the last two, NCHW images.
DEFAULT_AXES: tuple[int, ...] = DefaultAxes((-2, -1))


def _looks_channels_last(shape: Sequence[Any]) -> bool:
    """``(B, H, W, C)``-like: a last axis of at most 4 (grey, RGB, RGBA)
    after larger ones. Shapes a compiler keeps symbolic are not judged."""
    if len(shape) < 4 or not all(isinstance(n, int) for n in shape[1:]):
        return False
    return bool(shape[-1] <= 4 < min(shape[1], shape[-2]))


def axes_tuple(axes: Any, name: str) -> tuple[int, ...]:
    """One to three axes as a tuple of Python ints (an int alone, NumPy ints
    taken), before ``x``'s ndim is known. Only the items of a sequence are
    tried as ints: torch.compile's tracer (torch 2.11) failed on the
    TypeError ``operator.index`` raises for a tuple."""
    many = axes if isinstance(axes, Sequence) else (axes,)  # an int alone
    if not all(_is_index(a) for a in many):
        raise TypeError(f"{name} must be a tuple of ints, got {axes!r}")
    out = tuple(operator.index(a) for a in many)  # NumPy ints as Python ints
    if not 1 <= len(out) <= 3:
        raise ValueError(f"{name} must name one to three axes, got {out}")
    return out


def check_axes(axes: Any, ndim: int, name: str = "axes", *,
               shape: Sequence[int] | None = None, drawn: bool = True) -> tuple[int, ...]:
    """Cut axes: one to three distinct axes of ``x``, never the batch axis;
    given ``x``'s ``shape``, none of length 0 where a box is to be ``drawn``.
    The default axes refuse a ``shape`` that looks channels-last: they would
    cut the width and the channels (torchvision's CutMix does so silently)."""
    if isinstance(axes, DefaultAxes) and shape is not None and _looks_channels_last(shape):
        layout, spatial = ("NHWC", (1, 2)) if len(shape) == 4 else ("NDHWC", (1, 2, 3))
        raise ValueError(
            f"x of shape {tuple(shape)} looks channels-last ({layout}): the default "
            f"{name}=(-2, -1) would cut its last two axes, the width and the channel "
            f"axis (length {shape[-1]}). Pass {name}={spatial} for channels-last data, or "
            f"{name}=(-2, -1) to cut the last two axes of this layout on purpose"
        )
    axes = axes_tuple(axes, name)
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"{name} has axis {a}, out of range for an array of ndim {ndim}")
        a %= ndim
        if a == 0:
            raise ValueError(
                f"{name} must not include the batch axis 0, got {tuple(axes)} for an array "
                f"of ndim {ndim}"
            )
        out.append(a)
    if len(set(out)) != len(out):
        raise ValueError(f"{name} must not repeat an axis, got {tuple(axes)}")
    if drawn and shape is not None and any(shape[a] == 0 for a in out):
        raise ValueError(
            f"x must have length >= 1 on each cut axis to draw a box in; {name}="
            f"{tuple(axes)} have lengths {tuple(shape[a] for a in out)}"
        )
    return tuple(out)


def check_box_params(x: Array, params: Any, batch: int, k: int) -> tuple[Array, Array]:
    """The boxes of hand-made CutMix params for ``k`` cut axes of ``x``, in
    the default index dtype."""
    if not (hasattr(params, "lower") and hasattr(params, "upper")):
        raise TypeError(
            f"params must be CutMixParams (from sample_cutmix), got {type(params).__name__}"
        )
    shapes = ((k,), (batch, k))
    lower = check_param(x, params.lower, "params.lower", shapes, "integral")
    upper = check_param(x, params.upper, "params.upper", shapes, "integral")
    if lower.shape != upper.shape:
        raise ValueError(
            f"params.lower and params.upper must have the same shape, ({k},) for one box "
            f"or ({batch}, {k}) for a box per sample; got {tuple(lower.shape)} and "
            f"{tuple(upper.shape)}"
        )
    return _as_index(lower), _as_index(upper)



def check_coords(a: Any, name: str, width: int) -> tuple[Reference, int]:
    """Padded coordinates ``(B, N, width)`` (boxes: 4, points: 2) of a real
    floating or integer dtype: their backend and batch size."""
    backend, batch = check_batch(a, name)
    if a.ndim != 3 or a.shape[-1] != width:
        what = "(B, N, 4) xyxy boxes" if width == 4 else "(B, N, 2) xy points"
        raise ValueError(f"{name} must be an array of {what}, got shape {tuple(a.shape)}")
    return backend, batch


def check_valid(coords: Array, valid: Any, name: str = "valid") -> Array:
    """Which slots of ``coords`` hold a box or point: a boolean ``(B, N)``
    array of their library on their device."""
    return check_param(coords, valid, name, (tuple(coords.shape[:2]),), "bool")


def check_grid_params(coords: Array, params: Any, batch: int, name: str) -> tuple[
        Array, Array, Array, Array]:
    """CutMix params drawn over two cut axes (height, width) for the
    ``coords`` (boxes or points): ``lam``, ``perm``, ``lower``, ``upper``."""
    lam, perm = check_mix_params(coords, params, batch)
    if not (hasattr(params, "lower") and hasattr(params, "upper")):
        raise TypeError(
            f"params must be CutMixParams (from sample_cutmix), got {type(params).__name__}"
        )
    shape = getattr(params.lower, "shape", None)
    if shape is not None and len(shape) in (1, 2) and shape[-1] != 2:
        raise ValueError(
            f"params must be drawn over two cut axes (height, width) for {name}: got "
            f"boxes over {shape[-1]} axes; draw them with sample_cutmix(rng, B, (H, W))"
        )
    lower, upper = check_box_params(coords, params, batch, 2)
    check_perm_values(perm, batch, 1)
    check_lam_values(lam)
    check_box_values(lower, upper, (np.iinfo(np.int64).max,) * 2)
    return lam, perm, lower, upper


def check_coord_values(coords: Array, valid: Array, name: str) -> None:
    """Finite coordinates in the valid slots, and boxes with ``x1 <= x2`` and
    ``y1 <= y2``, where reading them costs no sync (host arrays)."""
    values, flags = _values(coords), _values(valid)
    if values is None or flags is None:
        return
    kept = values[flags]
    if not np.isfinite(kept).all():
        raise ValueError(f"{name} must be finite where valid, found NaN or infinity")
    if coords.shape[-1] == 4 and bool(((kept[:, 2] < kept[:, 0])
                                       | (kept[:, 3] < kept[:, 1])).any()):
        raise ValueError(
            f"{name} must be xyxy boxes with x1 <= x2 and y1 <= y2 where valid, found "
            "an inverted box"
        )


def check_grid(params: Any, lengths: Sequence[Any], what: str, axes: Sequence[int]) -> None:
    """The grid CutMix params were drawn for (``params.sizes``, where they
    record it) is the one of the array they are pasted into."""
    sizes = getattr(params, "sizes", None)
    if sizes is None or not all(type(s) is int for s in (*sizes, *lengths)):
        return  # made by hand, or symbolic lengths under a trace
    if tuple(sizes) != tuple(lengths):
        raise ValueError(
            f"params were drawn for cut axes of lengths {tuple(sizes)}, but {what} has "
            f"lengths {tuple(lengths)} on axes {tuple(axes)}: use "
            f"params.rescaled({tuple(lengths)}), which maps the boxes to that grid"
        )


def check_mask_params(x: Array, params: Any, batch: int, k: int) -> tuple[Array, Array, Array]:
    """``lam``, ``perm`` and ``mask`` of MaskParams for ``k`` cut axes of ``x``:
    a boolean mask of shape ``grid`` (with a scalar ``lam``) or ``(B, *grid)``
    (with one per sample), over ``k`` axes of length >= 1."""
    lam, perm = check_mix_params(x, params, batch)
    mask: Any = getattr(params, "mask", None)
    lead = (batch,) if lam.ndim else ()
    shape = tuple(mask.shape) if hasattr(mask, "ndim") else None
    if shape is None or len(shape) != len(lead) + k or shape[:len(lead)] != lead or not all(
            isinstance(n, int) and n >= 1 for n in shape[len(lead):]):
        want = "(B, *grid)" if lead else "grid"
        raise ValueError(
            f"params.mask must have shape {want} with one axis of length >= 1 per cut axis "
            f"({k} cut axes; params.lam of shape {tuple(lam.shape)}), got "
            f"{'no array' if shape is None else 'shape ' + str(shape)}"
        )
    check_param(x, mask, "params.mask", (tuple(mask.shape),), "bool")
    return lam, perm, mask


def check_mosaic_params(x: Array, params: Any, batch: int) -> tuple[Array, Array, Array]:
    """``lam`` ``(4,)``/``(B, 4)``, ``sources`` ``(B, 4)`` and ``centre``
    ``(2,)``/``(B, 2)`` of MosaicParams for ``x``, the centre's lead matching
    ``lam``'s; sources in the default index dtype."""
    if not all(hasattr(params, f) for f in ("lam", "sources", "centre")):
        raise TypeError(
            f"params must be MosaicParams (from sample_mosaic), got {type(params).__name__}"
        )
    lam = check_param(x, params.lam, "params.lam", ((4,), (batch, 4)), "real floating")
    sources = check_param(x, params.sources, "params.sources", ((batch, 4),), "integral")
    centre = check_param(x, params.centre, "params.centre", ((2,), (batch, 2)), "integral")
    if lam.ndim != centre.ndim:
        raise ValueError(
            "params.lam and params.centre must both be per batch ((4,) and (2,)) or both per "
            f"sample ((B, 4) and (B, 2)), got shapes {tuple(lam.shape)} and "
            f"{tuple(centre.shape)}"
        )
    return lam, _as_index(sources), _as_index(centre)


def check_source_values(sources: Array, batch: int, groups: int) -> None:
    """A Mosaic's sources where they are host arrays: column 0 is each
    sample itself, the others partners in range (and in the sample's group)."""
    values = _values(sources)
    if values is None:
        return
    if not bool((values[:, 0] == np.arange(batch)).all()):
        raise ValueError(
            "params.sources[:, 0] must be each sample's own index 0 .. B-1 (the top-left "
            "quadrant shows the sample itself)"
        )
    for q in (1, 2, 3):
        _check_in_range(sources[:, q], batch, f"params.sources[:, {q}]", "sample indices")
    if groups > 1:
        n = batch // groups
        if bool(np.any(values // n != (np.arange(batch) // n)[:, None])):
            raise ValueError(
                f"params.sources must stay inside each sample's group of {n} "
                f"(groups={groups}): draw the params with the same groups"
            )
