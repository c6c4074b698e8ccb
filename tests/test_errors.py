"""Bad input: a ValueError or TypeError naming the argument, before any work."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import arraymix
from reference import ref_blend, ref_paste

X = np.zeros((4, 3), np.float32)
Y = np.asarray([0, 1, 2, 1])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"alpha": 0.0}, ValueError, "alpha"),
        ({"alpha": -1.0}, ValueError, "alpha"),
        ({"alpha": math.nan}, ValueError, "alpha"),
        ({"alpha": math.inf}, ValueError, "alpha"),
        ({"alpha": "0.2"}, TypeError, "alpha"),
        ({"alpha": True}, TypeError, "alpha"),
        ({"lam_mode": "elem"}, ValueError, "lam_mode"),
        ({"pairing": "shuffle"}, ValueError, "pairing"),
        ({"lam_mode": "pair"}, ValueError, r"lam_mode='pair' .* pairing='flip' .* "
                                           r"got pairing='permute'"),
        ({"lam_mode": "pair", "pairing": "roll"}, ValueError, "got pairing='roll'"),
        ({"label_smoothing": 1.0}, ValueError, "label_smoothing"),
        ({"label_smoothing": -0.1}, ValueError, "label_smoothing"),
        ({"num_classes": 0}, ValueError, "num_classes"),
        ({"num_classes": 2.5}, TypeError, "num_classes"),
        ({"num_classes": True}, TypeError, "num_classes"),
        ({"rng": "seed"}, TypeError, "rng"),
        ({"rng": 1.5}, TypeError, "rng"),
        ({"rng": -3}, ValueError, "rng"),
        ({"rng": np.random.RandomState(0)}, TypeError, "rng"),
    ],
)
@pytest.mark.parametrize("rng", [None, "generator"])
def test_bad_options(kwargs, error, match, rng):
    # a NumPy Generator takes the plain host call's checks, None the general ones
    rng = np.random.default_rng(0) if rng else None
    kwargs = {"num_classes": 3, "rng": rng} | kwargs
    with pytest.raises(error, match=match):
        arraymix.mixup(X, Y, **kwargs)


_OPTIONS = {
    "alpha": [0.2, 1.0, 1, np.float64(0.2), np.float32(0.5), True, 0.0, -1.0, math.nan,
              math.inf, 1e308, 5e-324, "0.2"],
    "lam_mode": ["batch", "sample", "pair", "elem", np.str_("sample"), None],
    "pairing": ["permute", "derange", "flip", "roll", "shuffle"],
    "groups": [None, 1, 2, 4, 3, True, 0],
    "num_classes": [3, 1, 2, 0, True, np.int64(3), 2**63 - 1, 2**63, 2.5, None],
    "smoothing": [0.0, 0.1, 0.99, 1.0, -0.1, math.nan, 0, np.float64(0.1), False],
    "union": [False, True, 0, 1, np.bool_(True), None],
}
_BATCHES = [np.zeros((4, 3), np.float32), np.zeros((4, 2, 2), np.float64),
            np.zeros((4, 5), np.uint8), np.zeros((3, 3), np.float32)]
_LABELS = [None, Y, Y.astype(np.int32), Y.astype(np.uint8), Y.astype(np.float32),
           np.asarray([0, 1, 2, 3]), np.asarray([-1, 0, 1, 2]), Y[:, None], Y.astype(bool),
           np.eye(3, dtype=np.float32)[Y], np.asarray(0)]


def _outcome(fn, *args):
    try:
        return fn(*args)
    except (TypeError, ValueError) as e:
        return type(e), str(e)


@settings(deadline=None, max_examples=300)
@given(st.fixed_dictionaries({k: st.sampled_from(v) for k, v in _OPTIONS.items()}),
       st.sampled_from(_BATCHES), st.sampled_from(_LABELS))
def test_plain_host_calls_are_checked_as_every_call_is(kw, x, y):
    """The one-call functions recognise the common NumPy call in a few
    comparisons: whatever they let through that way, the general checks
    accept as it is, with the same result; and what they refuse, they
    refuse with the general checks' error."""
    from arraymix._api import _check_any_call, _check_call, _plain_call
    from arraymix._labels import _check_any_targets, _plain_ids, check_targets

    args = (x, y, kw["alpha"], kw["num_classes"], kw["smoothing"], kw["lam_mode"],
            kw["pairing"], kw["groups"], None, np.random.default_rng(0), kw["union"])
    fast, general = _outcome(_check_call, *args), _outcome(_check_any_call, *args)
    if _plain_call(x, *args[2:3], *args[5:9], args[9]):
        assert type(fast) is type(general)
    if isinstance(general, tuple) and isinstance(general[0], type):
        assert fast == general
    else:
        assert (fast.backend, fast.batch, fast.groups, fast.device, type(fast.source)) == (
            general.backend, general.batch, general.groups, general.device,
            type(general.source))
        assert fast.alpha == general.alpha
        assert type(fast.alpha) is type(general.alpha)
        assert fast.targets == general.targets
    t_args = (x, y, kw["num_classes"], kw["smoothing"], kw["union"])
    fast_t, general_t = _outcome(check_targets, *t_args), _outcome(_check_any_targets, *t_args)
    assert fast_t == general_t
    if _plain_ids(*t_args) and general_t is not None and not isinstance(general_t[0], type):
        assert [type(v) for v in fast_t] == [type(v) for v in general_t]


def test_the_plain_host_call_is_recognised():
    """The test above compares something: the default call with a NumPy
    Generator and class ids takes the few comparisons."""
    from arraymix._api import _plain_call
    from arraymix._labels import _plain_ids

    gen = np.random.default_rng(0)
    assert _plain_call(X, 0.2, "batch", "permute", None, None, gen)
    assert _plain_ids(X, Y, 3, 0.0, False)
    assert not _plain_call(X, 0.2, "batch", "permute", None, None, 0)
    assert not _plain_ids(X, Y, True, 0.0, False)


def test_cut_axes_named_with_what_is_wrong():
    """Cut axes: the batch axis is named with x's ndim (a Mixer's default axes
    on feature vectors), and an axis of length 0 has no box to draw."""
    feats = np.zeros((4, 6), np.float32)
    with pytest.raises(ValueError, match=r"cutmix_axes must not include the batch axis 0, "
                                         r"got \(-2, -1\) for an array of ndim 2"):
        arraymix.Mixer(num_classes=3, seed=0, switch_prob=1.0)(feats, Y)
    empty = np.zeros((4, 3, 0, 5), np.float32)
    with pytest.raises(ValueError, match=r"x must have length >= 1 on each cut axis .*"
                                         r"axes=\(-2, -1\) have lengths \(0, 5\)"):
        arraymix.cutmix(empty, rng=0)
    with pytest.raises(ValueError, match=r"cutmix_axes=\(2, 3\) have lengths \(0, 5\)"):
        arraymix.Mixer(num_classes=3, seed=0, mixup_alpha=0.0, cutmix_axes=(2, 3))(empty, Y)
    # paste draws nothing: boxes on an empty axis are empty
    p = arraymix.CutMixParams(lam=np.asarray(1.0), perm=np.asarray([1, 0, 3, 2]),
                              lower=np.asarray([0, 0]), upper=np.asarray([0, 5]))
    assert arraymix.paste(empty, p).shape == empty.shape


def test_leaf_tensor_that_requires_grad_is_no_out():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    leaf = torch.zeros(4, 3, requires_grad=True)
    with pytest.raises(ValueError, match="out must not be a leaf tensor that requires grad"):
        arraymix.mixup(leaf, out=leaf)
    # a tensor computed from one may be written into: autograd records the write
    inner = leaf * 2
    arraymix.mixup(inner, rng=0, out=inner)[0].sum().backward()
    assert leaf.grad is not None
    # outside autograd (an optimizer-style update) torch writes into a leaf
    with torch.no_grad():
        before = leaf.detach().clone() + torch.arange(12.0).reshape(4, 3)
        leaf.copy_(before)
        mixed, _ = arraymix.mixup(leaf, rng=0, out=leaf)
    assert mixed is leaf
    assert leaf.requires_grad
    torch.testing.assert_close(leaf.detach(), arraymix.mixup(before, rng=0)[0], rtol=0, atol=0)


def test_out_whose_elements_share_memory_is_named():
    """An expanded or broadcast view writes several results into one element:
    refused before any work, where torch would fail halfway and NumPy write
    whichever came last."""
    from numpy.lib.stride_tricks import as_strided

    row = np.zeros((1, 3), np.float32)
    shared = as_strided(row, shape=(4, 3), strides=(0, 4), writeable=True)
    for op in (lambda out: arraymix.mixup(X, rng=0, out=out),
               lambda out: arraymix.cutmix(X, rng=0, axes=(1,), out=out)):
        with pytest.raises(ValueError, match=r"out must give each element its own memory; "
                                             r"a stride of 0 \(strides \(0, 1\)\)"):
            op(shared)
    assert not row.any()  # nothing written
    torch = pytest.importorskip("torch", reason="torch is not installed")
    expanded = torch.zeros(1, 3).expand(4, 3)
    for out in (expanded, expanded.t().t()):
        with pytest.raises(ValueError, match="out must give each element its own memory"):
            arraymix.mixup(expanded, rng=0, out=out)
    # a zero stride on an axis of length 1 shares nothing
    single = torch.zeros(4, 1).as_strided((4, 1), (1, 0))
    assert arraymix.mixup(torch.rand(4, 1), rng=0, out=single)[0] is single


def test_inference_tensor_is_no_out_outside_inference_mode():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    with torch.inference_mode():
        frozen = torch.rand(4, 3)
    with pytest.raises(ValueError, match=r"out must not be an inference tensor outside "
                                         r"torch\.inference_mode\(\)"):
        arraymix.mixup(frozen, rng=0, out=frozen)
    want = arraymix.mixup(frozen, rng=0)[0]  # out of place it is read, not written
    with torch.inference_mode():
        got = arraymix.mixup(frozen, rng=0, out=frozen)[0]
    assert got is frozen
    assert torch.equal(got, want)


def test_cut_axes_take_any_integer_and_refuse_the_rest():
    """NumPy integers name axes as Python ints do (as num_classes and groups
    take them); bools, floats, strings and arrays are a TypeError naming axes."""
    x = np.random.default_rng(0).normal(size=(4, 3, 6, 5)).astype(np.float32)
    want = arraymix.cutmix(x, rng=2, axes=(2, 3))[0]
    for axes in ((np.int64(2), np.int32(3)), [2, 3], (-2, np.int8(-1))):
        np.testing.assert_array_equal(arraymix.cutmix(x, rng=2, axes=axes)[0], want)
    for axes in ((2.0, 3), (True, 3), (np.True_,), "23", np.asarray([2, 3])):
        with pytest.raises(TypeError, match="axes must be a tuple of ints"):
            arraymix.cutmix(x, rng=2, axes=axes)


def test_bad_xp_and_device_are_named(backend):
    """A namespace that is none and a device the library lacks are named,
    not reported by the library from inside a draw."""
    try:
        backend.xp.empty(0, device="no-such-device")
        refused = False
    except Exception:  # each library raises its own kind
        refused = True
    for fn in (lambda **kw: arraymix.sample_mixup(0, 4, **kw),
               lambda **kw: arraymix.sample_cutmix(0, 4, (8, 8), **kw)):
        for xp in ("torch", 3):
            with pytest.raises(TypeError, match="xp must be an array library"):
                fn(xp=xp)
        if refused:
            with pytest.raises(ValueError, match=r"device='no-such-device' is not a device of"):
                fn(xp=backend.xp, device="no-such-device")
        p = fn(xp=backend.xp, device=backend.device)  # the backend's own device passes
        assert p.perm.shape == (4,)
    if not refused:
        pytest.skip(f"{backend.name} takes any device name: there is none to refuse")


def test_read_only_numpy_out_is_named():
    frozen = np.zeros((4, 3), np.float32)
    frozen.flags.writeable = False
    for x in (X, frozen):
        with pytest.raises(ValueError, match=r"out must be writeable; this NumPy array is "
                                             r"read-only"):
            arraymix.mixup(x, out=frozen)


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        ([[1.0, 2.0]], TypeError, r"x must be an array .*: pass numpy\.asarray\(x\)"),
        (3.0, TypeError, "x must be an array"),
        (np.float32(1.0), ValueError, "batch axis"),
        (np.asarray(1.0), ValueError, "batch axis"),
        (np.ones((2, 2), bool), TypeError, "x must have a real"),
        (np.ones((2, 2), np.complex64), TypeError, "x must have a real"),
    ],
)
def test_bad_x(x, error, match):
    with pytest.raises(error, match=match):
        arraymix.mixup(x)


@pytest.mark.parametrize(
    ("y", "kwargs", "error", "match"),
    [
        (np.asarray([0, 1, 2]), {"num_classes": 3}, ValueError, "batch size 4"),
        (np.asarray(1), {"num_classes": 3}, ValueError, "y must have x's batch size"),
        (Y, {}, ValueError, "num_classes is required"),
        (np.asarray([0, 1, 3, 1]), {"num_classes": 3}, ValueError, r"\[0, num_classes=3\)"),
        (np.asarray([0, -1, 2, 1]), {"num_classes": 3}, ValueError, "class ids"),
        (np.full((4, 5), 0.2), {"num_classes": 3}, ValueError, "num_classes=3 does not match"),
        (np.ones(4, bool), {"num_classes": 3}, TypeError, "binary class ids as integers"),
        (np.eye(4, dtype=bool), {}, TypeError, "multi-hot targets are mixed as floats"),
        # class ids stored as floats: (B,) has no class axis, even when B == C
        (np.asarray([0.0, 1, 2, 1]), {"num_classes": 3}, ValueError, "integer dtype"),
        (np.asarray([0.0, 1, 2, 3]), {"num_classes": 4}, ValueError, "class axis"),
        (np.ones(4, np.complex64), {}, TypeError, "y must hold"),
        (np.ones(4), {"label_smoothing": 0.1}, ValueError, "class axis"),
        ([0, 1, 2, 1], {"num_classes": 3}, TypeError, "y must be an array"),
    ],
)
def test_bad_y(y, kwargs, error, match):
    with pytest.raises(error, match=match):
        arraymix.mixup(X, y, **kwargs)


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")
@pytest.mark.parametrize("layout", ["coo", "csr"])
@pytest.mark.parametrize("name", ["x", "y", "out"])
def test_sparse_tensors_are_refused_before_any_work(layout, name):
    torch = pytest.importorskip("torch", reason="torch is not installed")
    dense = torch.rand(4, 6)
    sparse = dense.to_sparse() if layout == "coo" else dense.to_sparse_csr()
    params = arraymix.sample_mixup(0, 4, xp=torch)
    calls = {"x": lambda: arraymix.mixup(sparse),
             "y": lambda: arraymix.mixup(dense, sparse),
             "out": lambda: arraymix.blend(dense, params, out=sparse)}
    with pytest.raises(TypeError, match=rf"{name} must be a dense \(strided\) tensor"):
        calls[name]()


def test_masked_arrays_are_refused_wherever_an_array_goes_in():
    """A masked entry's hidden value would reach its partner's unmasked sample."""
    data = np.arange(16, dtype=np.float32).reshape(4, 4)
    masked = np.ma.masked_array(data, mask=data == 0)
    params = arraymix.MixParams(np.asarray(0.5, np.float32), np.asarray([1, 0, 3, 2]))
    calls = {
        "x": lambda: arraymix.mixup(masked),
        "y": lambda: arraymix.mixup(data, masked),
        "out": lambda: arraymix.blend(data, params, out=masked),
        "labels": lambda: arraymix.one_hot(np.ma.masked_array([0, 1], mask=[1, 0]), 2),
    }
    for name, call in calls.items():
        with pytest.raises(TypeError, match=rf"{name} must not be a numpy\.ma\.MaskedArray"):
            call()
    for call in (lambda: arraymix.blend(masked, params), lambda: arraymix.paste(masked, params),
                 lambda: arraymix.cutmix(masked, axes=(1,)), lambda: arraymix.Mixer()(masked)):
        with pytest.raises(TypeError, match=r"x must not be a numpy\.ma\.MaskedArray"):
            call()


def test_tensorflow_tensors_are_told_the_way_in():
    """A TensorFlow tensor (not an array API array) gets the way in, not only a
    refusal: its .numpy(), or Keras 3 on a backend whose arrays arraymix mixes."""
    eager = type("EagerTensor", (), {"__module__": "tensorflow.python.framework.ops"})
    with pytest.raises(TypeError, match=r"got tensorflow\.EagerTensor: TensorFlow tensors "
                                        r"are not array API arrays; pass x\.numpy\(\)"):
        arraymix.mixup(eager())


def test_derange_needs_two_samples():
    with pytest.raises(ValueError, match="pairing='derange'"):
        arraymix.mixup(X[:1], pairing="derange")
    with pytest.raises(ValueError, match="pairing='derange'"):
        arraymix.sample_mixup(0, 1, pairing="derange")


@pytest.mark.parametrize(("batch", "error"), [(-1, ValueError), (2.0, TypeError),
                                              (True, TypeError), ("3", TypeError)])
def test_bad_batch_size(batch, error):
    with pytest.raises(error, match="batch_size"):
        arraymix.sample_mixup(0, batch)


@pytest.mark.parametrize("flag", [True, np.True_])
def test_bools_are_not_counts(flag):
    """A bool is not a count, a length or a seed, NumPy's included (NumPy
    2.2's operator.index takes np.True_ as 1, with only a warning)."""
    for call, name in ((lambda: arraymix.sample_mixup(0, flag), "batch_size"),
                       (lambda: arraymix.sample_cutmix(0, 4, (flag, 3)), r"sizes\[0\]"),
                       (lambda: arraymix.mixup(X, Y, num_classes=flag), "num_classes"),
                       (lambda: arraymix.mixup(X, groups=flag), "groups"),
                       (lambda: arraymix.Mixer(seed=flag), "seed")):
        with pytest.raises(TypeError, match=f"{name} must be an int, got bool"):
            call()


@pytest.mark.parametrize("call", [
    lambda n: arraymix.sample_mixup(0, n),
    lambda n: arraymix.one_hot(np.asarray([0, 1]), n),
    lambda n: arraymix.mixup(X, Y, num_classes=n),
    lambda n: arraymix.Mixer(num_classes=n),
    lambda n: arraymix.Mixer(groups=n),
])
def test_lengths_no_array_can_have_are_refused(call):
    """An axis length over a signed 64-bit size (what every library indexes
    with) is a ValueError naming the argument, not NumPy's or torch's own
    overflow from inside an allocation."""
    with pytest.raises(ValueError, match="must be <= 9223372036854775807, got 9223372036854775808"):
        call(2**63)


@pytest.mark.parametrize("lam_mode", ["batch", "sample"])
def test_cut_axes_longer_than_float64_counts_are_refused(lam_mode):
    """Boxes are computed in float64: up to 2**53 every bound is exact and
    inside its axis; longer, bounds came out rounded, or past 2**63 wrapped
    to negative numbers. The longest axis is accepted, one more refused."""
    top = 2**53
    for rng in (0, np.random.default_rng(7)):
        p = arraymix.sample_cutmix(rng, 64, (top, 3), lam_mode=lam_mode)
        lower, upper = np.asarray(p.lower), np.asarray(p.upper)
        assert np.all((lower >= 0) & (lower <= upper) & (upper <= [top, 3]))
    for sizes, axis, length in (((top + 1, 3), 0, top + 1), ((3, 2**63 - 1), 1, 2**63 - 1)):
        with pytest.raises(ValueError, match=rf"sizes\[{axis}\] must be <= {top}, got {length}"):
            arraymix.sample_cutmix(0, 4, sizes, lam_mode=lam_mode)


def test_cut_axes_beyond_a_32_bit_index_are_refused():
    """JAX without x64 indexes with int32: a bound past 2**31 - 1 wrapped to a
    negative or saturated number (boxes outside their axis, lam for another
    box); refused, drawn by a JAX key or placed in JAX from a seed."""
    jax = pytest.importorskip("jax", reason="jax is not installed")
    if jax.config.jax_enable_x64:
        pytest.skip("jax runs with x64 here: it indexes with int64")
    for rng in (jax.random.key(0), 0):
        with pytest.raises(ValueError, match=r"sizes\[1\] must be <= 2147483647, the largest "
                           r"value of jax's index dtype int32, got 2147483648"):
            arraymix.sample_cutmix(rng, 4, (3, 2**31), xp=jax.numpy)
    p = arraymix.sample_cutmix(jax.random.key(1), 64, (3, 2**31 - 1), lam_mode="sample")
    assert bool(((p.lower >= 0) & (p.lower <= p.upper)).all())


def _strict_at(revision):
    """array-api-strict declaring an older revision of the standard."""
    xp = pytest.importorskip("array_api_strict", reason="array-api-strict is not installed")
    if not hasattr(xp, "ArrayAPIStrictFlags"):
        pytest.skip("this array-api-strict cannot declare another revision")
    return xp, xp.ArrayAPIStrictFlags(api_version=revision)


def test_libraries_older_than_the_2023_12_standard_are_named():
    """2023.12 brought __array_namespace_info__ (default dtypes); a library
    declaring 2022.12 is told so by name, not by its own error from a call
    deep inside."""
    xp, flags = _strict_at("2022.12")
    with flags:
        x = xp.asarray(np.zeros((4, 3), dtype=np.float32))
        labels = xp.asarray(np.arange(4))
        for call, name in ((lambda: arraymix.mixup(x, rng=0), "x"),
                           (lambda: arraymix.cutmix(x, rng=0, axes=(1,)), "x"),
                           (lambda: arraymix.one_hot(labels, 4), "labels"),
                           (lambda: arraymix.sample_mixup(0, 4, xp=xp), "xp")):
            with pytest.raises(TypeError, match=f"{name} comes from a library implementing the "
                               r"array API 2022\.12 \(array_api_strict\); arraymix needs "
                               r"revision 2023\.12 or later"):
                call()


def test_groups_gather_without_take_along_axis_before_2024_12():
    """take_along_axis came with 2024.12: a library declaring 2023.12 gathers
    each group on its own, and the result is the reference's."""
    xp, flags = _strict_at("2023.12")
    gen = np.random.default_rng(5)
    xnp = gen.normal(size=(8, 2, 5, 5)).astype(np.float32)
    with flags:
        x = xp.asarray(xnp)
        for pairing in ("permute", "derange", "flip"):
            mixed = arraymix.mixup(x, rng=1, groups=4, pairing=pairing, lam_mode="sample")[0]
            cut = arraymix.cutmix(x, rng=1, groups=4, pairing=pairing, lam_mode="sample")[0]
            p = arraymix.sample_mixup(1, 8, groups=4, pairing=pairing, lam_mode="sample")
            c = arraymix.sample_cutmix(1, 8, (5, 5), groups=4, pairing=pairing,
                                       lam_mode="sample")
            want = ref_blend(xnp, p.lam.astype(np.float32), p.perm)
            np.testing.assert_allclose(np.asarray(mixed), want, rtol=0, atol=1e-5)
            np.testing.assert_array_equal(np.asarray(cut),
                                          ref_paste(xnp, c.perm, c.lower, c.upper, (-2, -1)))


def test_y_from_another_library_or_device():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    with pytest.raises(TypeError, match=r"y must come from x's array library: x is torch\.Tensor"):
        arraymix.mixup(torch.zeros(4, 3), Y, num_classes=3)
    with pytest.raises(ValueError, match="y must be on x's device"):
        arraymix.mixup(torch.zeros(4, 3), torch.asarray(Y, device="meta"), num_classes=3)


def test_y_on_another_device_strict():
    xp = pytest.importorskip("array_api_strict", reason="array-api-strict is not installed")
    x = xp.zeros((4, 3), device=xp.Device("device1"))
    with pytest.raises(ValueError, match="y must be on x's device"):
        arraymix.mixup(x, xp.asarray(Y), num_classes=3)


def test_params_must_match_x():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    p = arraymix.sample_mixup(0, 4)  # NumPy params
    with pytest.raises(TypeError, match=r"params\.lam must come from x's array library.*"
                                        r"xp=array_namespace\(x\), device=device\(x\)"):
        arraymix.blend(torch.zeros(4, 3), p)
    with pytest.raises(ValueError, match=r"params.perm must be an integer array of shape \(5,\)"):
        arraymix.blend(np.zeros((5, 3)), p)
    with pytest.raises(TypeError, match="params must be MixParams"):
        arraymix.blend(X, (p.lam, p.perm))
    bad = arraymix.MixParams(lam=np.asarray([[0.5]]), perm=p.perm)
    with pytest.raises(ValueError, match=r"params\.lam must be a real floating array"):
        arraymix.blend(X, bad)


def test_rng_is_untouched_when_input_is_bad():
    gen = np.random.default_rng(0)
    state = gen.bit_generator.state
    with pytest.raises(ValueError, match="class ids"):
        arraymix.mixup(X, np.asarray([0, 1, 9, 1]), num_classes=3, rng=gen)
    assert gen.bit_generator.state == state


def test_rng_of_another_library_is_refused():
    torch = pytest.importorskip("torch", reason="torch is not installed")
    with pytest.raises(TypeError, match="rng draws torch arrays"):
        arraymix.mixup(X, rng=torch.Generator())


def test_one_hot_dtype_of_another_library_is_named(backend):
    """A dtype the labels' library does not know (NumPy's for torch labels, a
    string) is a TypeError naming dtype, not an error from inside a library."""
    y = backend.asarray(np.asarray([0, 1]))
    others = [int, backend.xp.int64]
    if backend.name.startswith("torch"):  # NumPy-like libraries take NumPy's dtypes
        others += [np.float32, "float32"]
    for dtype in others:
        with pytest.raises(TypeError, match="dtype must be a real floating dtype"):
            arraymix.one_hot(y, 2, dtype=dtype)


def test_out_of_range_ids_poison_rows_where_they_cannot_be_read(backend):
    """Where ids can't be read without a sync, their rows become NaN instead."""
    backend.asarray(np.zeros((3, 2), np.float32))
    y = backend.asarray(np.asarray([0, 5, 1]))
    from arraymix._compat import host_readable

    if host_readable(y):
        with pytest.raises(ValueError, match="class ids"):
            arraymix.one_hot(y, 3)
        return
    rows = backend.call(lambda ids: arraymix.one_hot(ids, 3), y)
    if backend.has_values:
        got = backend.numpy(rows)
        assert np.isnan(got[1]).all()
        np.testing.assert_array_equal(got[[0, 2]], [[1, 0, 0], [0, 1, 0]])


# a small batch (whole-batch paths) and samples large enough for the host walk
@pytest.mark.parametrize(("shape", "axes"), [((4, 6), (1,)), ((4, 3, 128, 128), (2, 3))])
def test_bad_partner_indices_and_boxes_are_named(backend, shape, axes):
    """Partners out of range or outside their group, and boxes outside the axes,
    raise a ValueError naming the params where they can be read without a sync."""
    from arraymix._compat import host_readable

    x = backend.asarray(np.zeros(shape, np.float32))
    lam = backend.asarray(np.asarray(0.5), "float32")
    k = len(axes)
    ints = {"perm": [1, 0, 3, 2], "lower": [0] * k, "upper": [2] * k}
    if not host_readable(lam):
        pytest.skip(f"{backend.name} arrays are not read before the work (a sync or a trace)")

    def params(**kw):
        v = {n: backend.asarray(np.asarray(kw.get(n, d))) for n, d in ints.items()}
        return arraymix.CutMixParams(lam=lam, **v)

    cases = [
        ({"perm": [1, 0, 4, 2]}, r"params\.perm must hold sample indices in \[0, 4\)", {}),
        ({"perm": [1, -1, 3, 2]}, r"found values in \[-1, 3\]", {}),
        # a repeated partner: in place, the cycle walk would overwrite it first
        ({"perm": [1, 0, 1, 2]}, r"params\.perm must be a permutation of 0 \.\. 3 .*found "
                                 r"sample 1 as the partner of 2", {}),
        ({"perm": [2, 3, 0, 1]}, r"params\.perm must pair each sample inside its group",
         {"groups": 2}),
        ({"lower": [-1] + [0] * (k - 1)}, r"0 <= lower <= upper <= the length", {}),
        ({"upper": [2] * (k - 1) + [200]}, r"params\.lower and params\.upper must satisfy", {}),
        ({"lower": [3] * k}, r"found lower in \[3, 3\]", {}),
        # a box per sample, one of them wrong
        ({"lower": [[0] * k, [0] * k, [0] * (k - 1) + [3], [0] * k], "upper": [[2] * k] * 4},
         r"found lower in \[0, 3\]", {}),
        ({"lower": [[0] * k] * 4, "upper": [[2] * k] * 3 + [[2] * (k - 1) + [200]]},
         r"upper in \[2, 200\]", {}),
        ({"lower": [[1] * k] * 4, "upper": [[2] * k] * 3 + [[0] * k]},
         r"0 <= lower <= upper", {}),
    ]
    for bad in (1.5, -0.25, float("nan")):  # λ outside [0, 1]: blend refuses it
        q = arraymix.MixParams(lam=backend.asarray(np.asarray([0.5, bad, 0.5, 0.5]), "float32"),
                               perm=params().perm)
        with pytest.raises(ValueError, match=r"params\.lam must hold weights in \[0, 1\]"):
            arraymix.blend(x, q)
    for values, match, kw in cases:
        p = params(**values)
        with pytest.raises(ValueError, match=match):
            arraymix.paste(x, p, axes=axes, **kw)
        if "perm" in values:
            with pytest.raises(ValueError, match=match):
                arraymix.blend(x, p, **kw)
    # one box for the batch on one side and a box per sample on the other
    for values in ({"lower": [[1] * k] * 4}, {"upper": [[1] * k, [2] * k, [3] * k, [2] * k]}):
        with pytest.raises(ValueError, match=r"params\.lower and params\.upper must have the "
                                             r"same shape"):
            arraymix.paste(x, params(**values), axes=axes)
    # the same params, valid, pass
    arraymix.paste(x, params(), axes=axes, groups=2)
    arraymix.blend(x, params(), groups=2)
    arraymix.paste(x, params(lower=[[1] * k] * 4, upper=[[2] * k] * 4), axes=axes)
