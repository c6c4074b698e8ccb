"""Mixer: MixUp, CutMix and the family switched at random, with a resumable
random stream."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from ._backends import Reference, select
from ._backends.reference import exact_at_one
from ._collate import (
    broadcast_view,
    check_compiled,
    check_samples,
    plan_of_draw,
    small_batch,
    split_items,
    stack_labels,
    stack_samples,
    written,
)
from ._compat import (
    Array,
    default_float,
    default_index,
    device,
    from_host,
    is_traced,
    isdtype,
    namespace,
    namespace_of,
    torch_module,
)
from ._family import (
    CENTER,
    SCALE,
    _Drawn,
    check_patch,
    draw_fmix,
    draw_mosaic,
    draw_patchmix,
    draw_resizemix,
    mosaic_targets,
)
from ._labels import check_not_dense, check_targets, mix_targets
from ._params import (
    CutMixParams,
    MaskParams,
    MixerParams,
    MixParams,
    MosaicParams,
    ResizeMixParams,
)
from ._random import Source, source
from ._sample import (
    LamMode,
    Pairing,
    check_sizes,
    check_target,
    draw_cutmix,
    draw_mixup,
    shared_in_pairs,
)
from ._switch import CODES, FAMILY, Part, check_methods, choose, draw_targets, paste_parts
from ._validate import (
    DEFAULT_AXES,
    LAM_MODES,
    PAIRINGS,
    axes_tuple,
    check_alpha,
    check_axes,
    check_batch,
    check_bool,
    check_choice,
    check_count,
    check_groups,
    check_minmax,
    check_out,
    check_pair_mode,
    check_pairing,
    check_real,
)

__all__ = ["Mixer"]


class Mixer:
    """MixUp and CutMix switched at random, as in timm's ``Mixup``, on any backend.

    Each call draws whether to mix at all (``prob``), then CutMix rather than
    MixUp (``switch_prob``), then the parameters of the chosen method, from the
    Mixer's own NumPy random stream; the parameters are placed on the data's
    device and applied with :func:`blend` / :func:`paste`.

    Parameters
    ----------
    mixup_alpha : float, default 0.8
        Beta(α, α) concentration for MixUp; 0 turns MixUp off.
    cutmix_alpha : float, default 1.0
        Beta(α, α) concentration for CutMix; 0 turns CutMix off (unless
        ``cutmix_minmax`` is set).
    cutmix_minmax : sequence of two floats, optional
        timm's ``cutmix_minmax``: CutMix box sides are drawn between these
        fractions of each cut axis, with the box inside the sample, instead
        of following a λ₀ ~ Beta (see :func:`sample_cutmix`). As in timm,
        setting it turns CutMix on whatever ``cutmix_alpha`` is, and
        ``cutmix_alpha`` is not used.
    prob : float, default 1.0
        Probability of mixing a batch (or, in sample mode, a sample; in pair
        mode, a pair) at all.
    switch_prob : float, default 0.5
        Probability of CutMix rather than MixUp when both alphas are > 0.
    lam_mode : {"batch", "sample", "pair"}, default "batch"
        ``"batch"``: the draws are made once per batch. ``"sample"``: once per
        sample, so one batch holds MixUp, CutMix and untouched samples, each
        with its own λ and box. ``"pair"`` (timm's ``mode="pair"``; needs
        ``pairing="flip"``): once per pair of partners, which then share
        whether they mix, the method, λ and the box.
    pairing : {"permute", "derange", "flip", "roll"}, default "permute"
        How partners are chosen; see :func:`sample_mixup`.
    correct_lam : bool, default True
        CutMix label weight is the exact kept fraction.
    label_smoothing : float, default 0.1
        Smoothing of the one-hot targets, in ``[0, 1)``.
    num_classes : int, optional
        Number of classes; required for integer labels.
    cutmix_axes : sequence of int, default (-2, -1)
        The cut axes of the batches this Mixer gets (NCHW images by default;
        ``(1, 2)`` for NHWC). Left at the default, a batch that looks
        channels-last (``(B, H, W, C)`` with ``C <= 4``) raises a ValueError
        when CutMix may run, instead of being cut across its channels.
    groups : int, optional
        Pair samples only inside this many equal contiguous groups of each
        batch (see :func:`sample_mixup`): for batches split over devices.
    seed : int or sequence of int, optional
        Seed of the random stream; ``None`` takes fresh OS entropy. A
        sequence seeds independent streams, such as ``(seed, rank)`` for each
        rank of a distributed job.
    union : bool, default False
        Multi-label targets: mixed samples get the elementwise maximum of
        their own and their partner's targets (see :func:`mixup`); samples
        left unmixed keep their own.
    methods : mapping of str to float, optional
        The probability of each method, given that a batch (or sample) is
        mixed: any of ``"mixup"``, ``"cutmix"``, ``"patchmix"``,
        ``"fmix"``, ``"mosaic"`` and ``"resizemix"``, summing to 1, such
        as ``{"mixup": 0.4, "cutmix": 0.4, "mosaic": 0.2}``. It replaces
        ``switch_prob`` (the two-method shorthand, which is then unused);
        ``{"mixup": 1 - p, "cutmix": p}`` draws exactly as
        ``switch_prob=p`` does. MixUp and CutMix take their settings above;
        the others take those below. Not with ``lam_mode="pair"``.
    patch : int or sequence of int, default 16
        The patch-grid cells' lengths (see :func:`sample_patchmix`).
    patchmix_alpha, fmix_alpha : float, default 1.0
        Beta(α, α) of the pasted fraction of a patch-grid mix and of FMix.
    fmix_decay : float, default 3.0
        FMix's spectral decay (see :func:`sample_fmix`).
    mosaic_center : pair of float, default (0.25, 0.75)
        Where a Mosaic's centre falls, as fractions of each axis.
    resizemix_scale : pair of float, default (0.1, 0.8)
        The range of a ResizeMix box side, as fractions of each axis.

    Notes
    -----
    The random stream lives on the host, so the Mixer works eagerly with
    every library; inside ``jax.jit`` (where it raises a TypeError: it would
    draw once, at tracing) use the functional API with a JAX key
    (:func:`mixup`, :func:`cutmix`, or :func:`sample_mixup` and
    :func:`blend`). ``state_dict`` / ``load_state_dict`` capture and restore
    the stream for checkpoints, and a pickled Mixer (as sent to DataLoader
    workers) continues the same stream. In a torch DataLoader worker each
    worker draws from its own stream, derived from the seed and the worker's
    seed: pass the Mixer (for instance in ``collate_fn``) and nothing else.

    With ``methods``, a batch mode call applies the chosen method as its
    one-call function does; a sample mode call mixes the whole batch once
    per method that some sample chose, and keeps each sample's own: the
    more methods in one batch, the more passes over it. A Mosaic needs two
    cut axes and a pairing other than ``"flip"``.

    Samples that are not mixed still get one-hot, smoothed targets, so the
    type of the output never depends on chance.

    The settings are attributes that may be changed between calls, each
    checked when set as when the Mixer is made: ``mixer.prob = 0`` stops
    mixing (timm's ``mixup_enabled = False`` for the last epochs). Another
    name raises an AttributeError rather than being ignored (subclasses may
    add attributes of their own). A state saved before a change loads only
    into a Mixer with the same settings.

    Examples
    --------
    >>> import numpy as np
    >>> import arraymix
    >>> mixer = arraymix.Mixer(num_classes=10, seed=0)
    >>> images = np.random.default_rng(0).random((8, 3, 32, 32), dtype=np.float32)
    >>> x, y = mixer(images, np.arange(8))
    >>> x.shape, x.dtype, y.shape
    ((8, 3, 32, 32), dtype('float32'), (8, 10))
    >>> resumed = arraymix.Mixer(num_classes=10)
    >>> resumed.load_state_dict(mixer.state_dict())
    >>> bool((resumed(images, np.arange(8))[0] == mixer(images, np.arange(8))[0]).all())
    True

    Any of the six methods, chosen per sample:

    >>> family = arraymix.Mixer(methods={"mixup": 0.5, "mosaic": 0.25, "fmix": 0.25},
    ...                         lam_mode="sample", num_classes=10, seed=0)
    >>> x, y = family(images, np.arange(8))
    >>> x.shape, bool(np.allclose(y.sum(axis=1), 1))
    ((8, 3, 32, 32), True)
    """

    # The settings: public, and checked again whenever one is changed.
    mixup_alpha: float
    cutmix_alpha: float
    cutmix_minmax: tuple[float, float] | None
    prob: float
    switch_prob: float
    lam_mode: LamMode
    pairing: Pairing
    correct_lam: bool
    label_smoothing: float
    num_classes: int | None
    cutmix_axes: tuple[int, ...]
    groups: int | None
    union: bool
    methods: dict[str, float] | None
    patch: int | tuple[int, ...]
    patchmix_alpha: float
    fmix_alpha: float
    fmix_decay: float
    mosaic_center: tuple[float, float]
    resizemix_scale: tuple[float, float]

    def __init__(
        self,
        *,
        mixup_alpha: float = 0.8,
        cutmix_alpha: float = 1.0,
        cutmix_minmax: Sequence[float] | None = None,
        prob: float = 1.0,
        switch_prob: float = 0.5,
        lam_mode: LamMode = "batch",
        pairing: Pairing = "permute",
        correct_lam: bool = True,
        label_smoothing: float = 0.1,
        num_classes: int | None = None,
        cutmix_axes: Sequence[int] = DEFAULT_AXES,
        groups: int | None = None,
        seed: int | Sequence[int] | None = None,
        union: bool = False,
        methods: Mapping[str, float] | None = None,
        patch: int | Sequence[int] = 16,
        patchmix_alpha: float = 1.0,
        fmix_alpha: float = 1.0,
        fmix_decay: float = 3.0,
        mosaic_center: Sequence[float] = CENTER,
        resizemix_scale: Sequence[float] = SCALE,
    ) -> None:
        self.mixup_alpha = mixup_alpha
        self.cutmix_alpha = cutmix_alpha
        self.cutmix_minmax = cutmix_minmax  # type: ignore[assignment]  # checked into a tuple
        self.prob = prob
        self.switch_prob = switch_prob
        self.lam_mode = lam_mode
        self.pairing = pairing
        self.correct_lam = correct_lam
        self.methods = methods  # type: ignore[assignment]  # checked into a dict
        self.patch = patch  # type: ignore[assignment]  # checked into an int or a tuple
        self.patchmix_alpha = patchmix_alpha
        self.fmix_alpha = fmix_alpha
        self.fmix_decay = fmix_decay
        self.mosaic_center = mosaic_center  # type: ignore[assignment]  # checked into a tuple
        self.resizemix_scale = resizemix_scale  # type: ignore[assignment]  # as above
        self._check_together()
        self.label_smoothing = label_smoothing
        self.num_classes = num_classes
        self.cutmix_axes = cutmix_axes  # type: ignore[assignment]  # checked into a tuple
        self.groups = groups
        self.union = union
        if isinstance(seed, (list, tuple)):
            seed = [check_count(s, f"seed[{i}]", maximum=None) for i, s in enumerate(seed)]
        elif seed is not None:
            seed = check_count(seed, "seed", maximum=None)
        seq = np.random.SeedSequence(seed)
        self._entropy = seq.entropy  # seeds the per-worker streams
        self._worker_seed: int | None = None
        self._gen = np.random.default_rng(seq)

    @classmethod
    def from_timm(
        cls,
        *,
        mixup_alpha: float = 1.0,
        cutmix_alpha: float = 0.0,
        cutmix_minmax: Sequence[float] | None = None,
        prob: float = 1.0,
        switch_prob: float = 0.5,
        mode: str = "batch",
        correct_lam: bool = True,
        label_smoothing: float = 0.1,
        num_classes: int = 1000,
        multi_label: bool = False,
        seed: int | Sequence[int] | None = None,
    ) -> Mixer:
        """A Mixer made from the keyword arguments of timm's ``Mixup``.

        Takes the arguments ``timm.data.Mixup`` takes, with timm's defaults
        for those not passed, so the dict a timm training script builds
        (``Mixer.from_timm(**mixup_args)``) gives the same recipe: partners
        by timm's flip (sample ``i`` with ``B − 1 − i``), ``mode`` mapped to
        ``lam_mode`` (``"batch"``, ``"elem"`` → ``"sample"``, ``"pair"``).

        Parameters
        ----------
        mixup_alpha, cutmix_alpha, cutmix_minmax, prob, switch_prob
            As in timm's ``Mixup`` (and :class:`Mixer`); note timm's defaults
            differ from the Mixer's: MixUp with α = 1 alone.
        correct_lam, label_smoothing, num_classes
            As in timm's ``Mixup``.
        mode : {"batch", "elem", "pair"}, default "batch"
            timm's ``mode``.
        multi_label : bool, default False
            timm's dense multi-label targets ``(B, C)``, mixed by weights as
            any floating targets are. timm smooths each label towards 0.5,
            where the Mixer smooths towards ``1 / C``: with ``multi_label``,
            ``label_smoothing`` must be 0 (smooth the targets first, as
            ``y * (1 - s) + 0.5 * s``, for timm's recipe).
        seed : int or sequence of int, optional
            The Mixer's stream (timm draws from NumPy's global one).

        Returns
        -------
        Mixer

        Notes
        -----
        Where the result still differs from timm: the draws come from the
        Mixer's own seeded stream, not NumPy's global one, so the same seed
        does not give timm's numbers; odd batches work (the middle sample is
        its own partner) where timm's ``"elem"`` and ``"pair"`` modes refuse
        them; batches of any array library are mixed, not only CUDA or CPU
        tensors, and ``out=`` says whether to mix in place (timm always
        does).

        Examples
        --------
        >>> import arraymix
        >>> args = {"mixup_alpha": 0.8, "cutmix_alpha": 1.0, "mode": "elem",
        ...         "label_smoothing": 0.1, "num_classes": 100}
        >>> mixer = arraymix.Mixer.from_timm(**args, seed=0)
        >>> mixer.lam_mode, mixer.pairing
        ('sample', 'flip')
        """
        modes: dict[str, LamMode] = {"batch": "batch", "elem": "sample", "pair": "pair"}
        lam_mode = modes[check_choice(mode, "mode", tuple(modes))]
        if check_bool(multi_label, "multi_label") and label_smoothing != 0:
            raise ValueError(
                "multi_label=True needs label_smoothing=0: timm smooths each label towards "
                "0.5, the Mixer towards 1/num_classes; smooth the multi-hot targets first "
                f"(y * (1 - s) + 0.5 * s), got label_smoothing={label_smoothing!r}"
            )
        return cls(mixup_alpha=mixup_alpha, cutmix_alpha=cutmix_alpha,
                   cutmix_minmax=cutmix_minmax, prob=prob, switch_prob=switch_prob,
                   lam_mode=lam_mode, pairing="flip", correct_lam=correct_lam,
                   label_smoothing=label_smoothing, num_classes=num_classes, seed=seed)

    def __setattr__(self, name: str, value: Any) -> None:
        """Settings are checked when they change, as when the Mixer is made;
        a name that is no setting is refused rather than silently ignored."""
        check = None if name.startswith("_") else _SETTINGS.get(name)
        if check is not None:
            value = check(value)
        elif not name.startswith("_") and type(self) is Mixer:  # subclasses add their own
            hint = (" (timm's mixup_enabled = False: set prob = 0 to stop mixing)"
                    if name == "mixup_enabled" else "")
            raise AttributeError(
                f"Mixer has no setting {name!r}{hint}; its settings are {', '.join(_SETTINGS)}"
            )
        object.__setattr__(self, name, value)

    def _cuts(self) -> bool:
        """Whether CutMix is on."""
        return self.cutmix_alpha > 0 or self.cutmix_minmax is not None

    def _weights(self) -> dict[str, float]:
        """The probability of each method, given that a batch or sample mixes."""
        if self.methods is not None:
            return self.methods
        if self.mixup_alpha == 0:
            return {"cutmix": 1.0}
        if not self._cuts():
            return {"mixup": 1.0}
        return {"cutmix": self.switch_prob, "mixup": 1.0 - self.switch_prob}

    def _may_cut(self) -> bool:
        """Whether a call may need the cut axes (any method but MixUp)."""
        return self.prob > 0 and any(p > 0 for name, p in self._weights().items()
                                     if name != "mixup")

    def _family(self) -> tuple[str, ...]:
        """The family's methods this Mixer may choose."""
        weights = self._weights()
        return tuple(name for name in FAMILY if weights.get(name, 0.0) > 0)

    def _check_together(self) -> None:
        """The checks that read several settings (each may have changed alone)."""
        if self.methods is None and self.mixup_alpha == 0 and not self._cuts() and self.prob > 0:
            raise ValueError(
                "mixup_alpha and cutmix_alpha are both 0, so nothing can be mixed: "
                "set one of them > 0, or prob=0 to turn mixing off"
            )
        weights = self.methods or {}
        if weights.get("mixup", 0.0) > 0 and self.mixup_alpha == 0:
            raise ValueError(
                f"methods gives MixUp probability {weights['mixup']:g} and mixup_alpha is 0: "
                "set mixup_alpha > 0, or leave MixUp out of methods"
            )
        if weights.get("cutmix", 0.0) > 0 and not self._cuts():
            raise ValueError(
                f"methods gives CutMix probability {weights['cutmix']:g} and cutmix_alpha "
                "is 0 (with no cutmix_minmax): set cutmix_alpha > 0, or leave CutMix out "
                "of methods"
            )
        family = self._family()
        if family and self.lam_mode == "pair":
            raise ValueError(
                f"lam_mode='pair' shares MixUp and CutMix draws within pairs, and methods "
                f"includes {', '.join(family)}: use lam_mode='batch' or 'sample'"
            )
        if "mosaic" in family and self.pairing == "flip":
            raise ValueError(
                "pairing='flip' gives one partner per sample, and a Mosaic (in methods) "
                "needs three different ones: use pairing='permute', 'derange' or 'roll'"
            )
        check_pair_mode(self.lam_mode, self.pairing)
        if self.cutmix_minmax is not None and not self.correct_lam:
            raise ValueError(
                "correct_lam=False asks for CutMix's lam = λ₀, and boxes drawn from "
                "cutmix_minmax have no λ₀: their lam is always the kept fraction; leave "
                "correct_lam=True"
            )

    def _config(self) -> dict[str, Any]:
        return {
            "mixup_alpha": self.mixup_alpha, "cutmix_alpha": self.cutmix_alpha,
            "cutmix_minmax": None if self.cutmix_minmax is None else list(self.cutmix_minmax),
            "prob": self.prob, "switch_prob": self.switch_prob, "lam_mode": self.lam_mode,
            "pairing": self.pairing, "correct_lam": self.correct_lam,
            "label_smoothing": self.label_smoothing, "num_classes": self.num_classes,
            "cutmix_axes": list(self.cutmix_axes), "groups": self.groups,
            "union": self.union,
            "methods": None if self.methods is None else dict(self.methods),
            "patch": self.patch if isinstance(self.patch, int) else list(self.patch),
            "patchmix_alpha": self.patchmix_alpha, "fmix_alpha": self.fmix_alpha,
            "fmix_decay": self.fmix_decay, "mosaic_center": list(self.mosaic_center),
            "resizemix_scale": list(self.resizemix_scale),
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._config().items())
        return f"Mixer({args})"

    def state_dict(self) -> dict[str, Any]:
        """The configuration and the position of the random stream, as plain data.

        Returns
        -------
        dict
            ``{"config": {...}, "rng": {...}}``: picklable, JSON-serialisable.
        """
        return {"config": self._config(), "rng": self._gen.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue the random stream of a :meth:`state_dict`.

        Parameters
        ----------
        state : dict
            From :meth:`state_dict` of a Mixer with the same configuration.

        Raises
        ------
        ValueError
            The state comes from a Mixer configured differently.
        """
        if (not isinstance(state, dict) or set(state) != {"config", "rng"}
                or not isinstance(state["config"], dict)):
            raise ValueError("state must be a dict from Mixer.state_dict()")
        config, saved = self._config(), state["config"]
        # saved before these settings existed
        saved = {"cutmix_minmax": None, "union": False, **_FAMILY_DEFAULTS, **saved}
        if saved != config:
            diff = sorted(k for k in config if saved.get(k) != config[k]) or sorted(
                set(saved) - set(config))
            raise ValueError(
                f"state comes from a Mixer with another configuration (differs in: "
                f"{', '.join(diff)})"
            )
        gen = np.random.default_rng()
        try:
            gen.bit_generator.state = state["rng"]
        except (TypeError, ValueError, KeyError) as e:
            raise ValueError(
                "state['rng'] must be the NumPy PCG64 state a Mixer.state_dict() holds "
                f"({type(e).__name__}: {e})"
            ) from None
        self._gen = gen

    def __call__(self, x: Array, y: Array | None = None, /, *,
                 out: Array | None = None) -> tuple[Array, Array | None]:
        """Mix a batch and its labels.

        Parameters
        ----------
        x : array
            Batch with samples on axis 0, any array API library and device.
        y : array, optional
            Integer class ids (need ``num_classes``) or floating soft targets,
            as in :func:`mixup`; not laid out over the cut axes when CutMix may
            run (as in :func:`cutmix`).
        out : array, optional
            Where to write the mixed batch, as in :func:`mixup`; ``out=x``
            mixes in place, as timm's ``Mixup`` does. In batch mode the
            in-place mix takes a sample of scratch at most; in sample mode,
            where one batch is blended and pasted, a batch of scratch. A
            batch left unmixed is copied into ``out`` (nothing, in place).

        Returns
        -------
        x_mixed, y_mixed : array, array or None
            Same library, device, shape and dtype as ``x`` (``out`` if given;
            without ``out``, ``x`` itself when the batch is left unmixed);
            targets as in :func:`mixup`, one-hot and smoothed even when
            nothing was mixed.
        """
        backend, batch = check_batch(x)
        if is_traced(x) or is_traced(y):
            raise TypeError(
                "a Mixer draws on the host, once, when jax.jit (or vmap) traces it, so every "
                "call of the compiled function would repeat that mix: call the Mixer outside "
                "the traced function, or inside it use mixup / cutmix with a JAX key"
            )
        self._check_together()  # the settings may have changed since
        may_cut = self._may_cut()
        axes = (check_axes(self.cutmix_axes, x.ndim, "cutmix_axes", shape=x.shape)
                if may_cut else ())
        check_pairing(self.pairing, batch)
        groups = check_groups(self.groups, batch, self.pairing)
        soft = check_targets(x, y, self.num_classes, self.label_smoothing, self.union)
        if out is not None:
            check_out(x, out)
        dev = device(x)
        sizes = check_sizes([x.shape[a] for a in axes], backend.xp, dev) if axes else ()
        self._check_grid(sizes)
        check_not_dense(soft, sizes, axes, "cutmix_axes")
        self._follow_worker()
        nearest = not isdtype(backend.xp, x.dtype, "real floating")
        call = _Call(backend, batch, sizes, axes, groups, dev, nearest)
        if self.lam_mode == "batch":
            x_out, params = self._batch_mode(x, call, out)
            if isinstance(params, MosaicParams):
                return x_out, mosaic_targets(backend, soft, params, groups)
            return x_out, mix_targets(backend, soft, params, groups)
        x_out, params, parts = self._sample_mode(x, call)
        if out is not None:  # blend and paste both read x: the result is whole first
            out[...] = x_out
            x_out = out
        return x_out, draw_targets(backend, soft, params.lam, params.perm, parts, groups)

    def _check_grid(self, sizes: tuple[int, ...]) -> None:
        """What the family's methods need of the cut axes, checked before
        any draw (a sample mode draw picks them only by chance)."""
        family = self._family()
        if "mosaic" in family and len(sizes) != 2:
            raise ValueError(
                "methods includes a Mosaic, which needs two cut axes (height, width), got "
                f"cutmix_axes={tuple(self.cutmix_axes)}"
            )
        if "patchmix" in family:
            check_patch(self.patch, sizes)

    def collate(self, items: Sequence[Any], /, *, compiled: bool = False
                ) -> tuple[Array, Array | None]:
        """Stack a DataLoader's samples into a mixed batch: a ``collate_fn``.

        The batch and targets ``self(stack(samples), stack(labels))`` gives,
        from the same draw, with each sample of the batch written once from
        its sample and its partner (:func:`collate`) instead of stacked and
        then mixed.

        Parameters
        ----------
        items : sequence
            What a DataLoader hands its ``collate_fn``: ``(sample, label)``
            pairs, or bare samples. Samples are NumPy arrays or torch
            tensors in host memory, of one shape and dtype, any layout (the
            Mixer's ``cutmix_axes`` count from the batch's axes); labels are
            ints (class ids) or arrays of one shape (soft or multi-hot rows).
        compiled : bool, default False
            Blend integer samples with ``torch.compile``'s CPU code, as
            :func:`arraymix.collate` says: the same batch, several times
            faster for uint8 MixUp. In a DataLoader:
            ``collate_fn=functools.partial(mixer.collate, compiled=True)``.

        Returns
        -------
        x, y : array, array or None
            The mixed batch in the samples' library and dtype, and the
            targets as the Mixer's call gives them (None without labels).

        Examples
        --------
        >>> import numpy as np
        >>> import arraymix
        >>> items = [(np.full((3, 8, 8), i, dtype=np.uint8), i % 5) for i in range(8)]
        >>> mixer = arraymix.Mixer(num_classes=5, seed=0)
        >>> x, y = mixer.collate(items)
        >>> x.shape, x.dtype, y.shape
        ((8, 3, 8, 8), dtype('uint8'), (8, 5))

        In a DataLoader: ``DataLoader(data, batch_size=64,
        collate_fn=mixer.collate, num_workers=2)``; each worker draws from
        its own stream, as for the Mixer's call.
        """
        samples, labels = split_items(items)
        samples = check_samples(samples, "items' samples")
        compiled = check_compiled(compiled)
        first, batch = samples[0], len(samples)
        if is_traced(first):
            raise TypeError("Mixer.collate takes host samples, not traced ones")
        self._check_together()
        if self._family() or small_batch(samples):
            # the family's methods are applied to the stacked batch, and so is
            # a small batch (no traffic to save; the backend's own arithmetic)
            batch_x = stack_samples(samples)
            return self(batch_x, None if labels is None else stack_labels(labels, first),
                        out=batch_x)
        shape = (batch, *first.shape)
        may_cut = self._may_cut()
        axes = (check_axes(self.cutmix_axes, len(shape), "cutmix_axes", shape=shape)
                if may_cut else ())
        check_pairing(self.pairing, batch)
        groups = check_groups(self.groups, batch, self.pairing)
        y = None if labels is None else stack_labels(labels, first)
        like = broadcast_view(first, batch)  # what the batch will be, for the checks
        soft = check_targets(like, y, self.num_classes, self.label_smoothing, self.union)
        xp, dev = namespace(first), device(first)
        sizes = check_sizes([shape[a] for a in axes], xp, dev) if axes else ()
        check_not_dense(soft, sizes, axes, "cutmix_axes")
        p = self._draw(batch, sizes, groups, may_cut, xp, dev)
        x = written(samples, plan_of_draw(p), axes, compiled)
        return x, mix_targets(select(like), soft, MixParams(p.lam, p.perm), groups)

    def draw(self, batch_size: int, sizes: Sequence[int] = (), /, *, xp: Any = None,
             device: Any = None) -> MixerParams:
        """Draw the next mix without applying it: what the next call would do.

        Parameters
        ----------
        batch_size : int
            The number of samples ``B``.
        sizes : sequence of int
            The lengths of the batch's cut axes (``(H, W)`` of the images):
            needed when CutMix may run; empty otherwise.
        xp : array namespace, optional
            The library of the params (default NumPy).
        device : optional
            Their device (default the library's default).

        Returns
        -------
        MixerParams
            Per sample: the method, λ, the partner and the box. It consumes
            the Mixer's stream as a call does: ``mixer(x, y)`` and
            ``p = mixer.draw(B, (H, W))`` followed by ``mix(x, p)`` and
            ``blend(one_hot(y, C), p)`` give the same batch and labels from
            Mixers in the same state.

        Examples
        --------
        >>> import numpy as np
        >>> import arraymix
        >>> mixer = arraymix.Mixer(num_classes=10, lam_mode="sample", seed=0)
        >>> p = mixer.draw(8, (32, 32))
        >>> p.method.shape, p.lower.shape, p.sizes
        ((8,), (8, 2), (32, 32))
        >>> images = np.zeros((8, 3, 32, 32), dtype=np.float32)
        >>> arraymix.mix(images, p).shape
        (8, 3, 32, 32)
        """
        batch = check_count(batch_size, "batch_size", minimum=0)
        self._check_together()
        may_cut = self._may_cut()
        src = self._source()
        xp, dev = check_target(src, xp, device)
        if isinstance(sizes, (tuple, list)) and not sizes:
            if may_cut:
                which = ", ".join(n for n, p in self._weights().items()
                                  if p > 0 and n != "mixup")
                raise ValueError(
                    "sizes must give the lengths of the batch's cut axes ((H, W) for images): "
                    f"this Mixer may run {which.replace('cutmix', 'CutMix')}"
                )
            lengths: tuple[int, ...] = ()
        else:
            lengths = check_sizes(sizes, xp, dev)
        if may_cut:
            self._check_grid(lengths)
        check_pairing(self.pairing, batch)
        groups = check_groups(self.groups, batch, self.pairing)
        return self._draw(batch, lengths, groups, may_cut, xp, dev)

    def _draw(self, batch: int, lengths: tuple[int, ...], groups: int, may_cut: bool, xp: Any,
              dev: Any) -> MixerParams:
        """:meth:`draw` on checked arguments."""
        self._follow_worker()
        fdt, idt = default_float(xp, dev), default_index(xp, dev)
        k = len(lengths)
        if self.lam_mode != "batch":
            d = self._draw_samples(batch, lengths if may_cut else (), groups)
            empty = np.zeros((batch, k), dtype=np.int64)
            return MixerParams(
                lam=from_host(xp, d.lam_label, fdt, dev), perm=from_host(xp, d.perm, idt, dev),
                lower=from_host(xp, empty if d.lower is None else d.lower, idt, dev),
                upper=from_host(xp, empty if d.upper is None else d.upper, idt, dev),
                blend_lam=from_host(xp, d.lam_blend, fdt, dev),
                method=from_host(xp, d.method, xp.int8, dev), sizes=lengths or None,
                parts=_placed(d.parts, xp, dev))
        code, params = self._draw_batch(batch, lengths, groups, xp, dev)
        ones = xp.ones((batch,), dtype=fdt, device=dev)
        zeros = xp.zeros((batch, k), dtype=idt, device=dev)
        method = xp.full((batch,), code, dtype=xp.int8, device=dev)
        if params is None:
            return MixerParams(ones, xp.arange(batch, dtype=idt, device=dev), zeros, zeros, ones,
                               method, lengths or None)
        if isinstance(params, MosaicParams):
            part = params._replace(lam=xp.broadcast_to(params.lam, (batch, 4)),
                                   centre=xp.broadcast_to(params.centre, (batch, 2)))
            own = xp.arange(batch, dtype=idt, device=dev)[:, None]
            mine = xp.sum(xp.where(part.sources == own, part.lam, xp.zeros_like(part.lam)),
                          axis=1)  # its own quadrants' area
            return MixerParams(mine, part.sources[:, 1], zeros, zeros, ones, method,
                               lengths or None, (part,))
        lam = xp.broadcast_to(params.lam, (batch,))
        if isinstance(params, MaskParams):
            grid = tuple(params.mask.shape[params.lam.ndim:])
            mask = MaskParams(lam, params.perm, xp.broadcast_to(params.mask, (batch, *grid)))
            return MixerParams(lam, params.perm, zeros, zeros, ones, method, lengths or None,
                               (mask,))
        if isinstance(params, ResizeMixParams):
            lower, upper = params.bounds()
            box = ResizeMixParams(lam, params.perm, lower, upper, params.sizes)
            return MixerParams(lam, params.perm, zeros, zeros, ones, method, lengths or None,
                               (box,))
        if isinstance(params, CutMixParams):
            lower, upper = params.bounds()
            return MixerParams(lam, params.perm, lower, upper, ones, method, lengths or None)
        return MixerParams(lam, params.perm, zeros, zeros, lam, method, lengths or None)

    def _follow_worker(self) -> None:
        """In a torch DataLoader worker, draw from that worker's own stream.

        Every worker gets a copy of the Mixer (by fork or by pickling), so
        without this they would all repeat the same draws. The worker's
        stream is derived from the Mixer's seed and the worker's seed, which
        the DataLoader draws from torch's generator for each epoch and worker:
        independent across workers and epochs, and reproducible run to run
        whenever the DataLoader's shuffling is (``torch.manual_seed`` or its
        ``generator=``).
        """
        torch = torch_module()
        data = getattr(getattr(torch, "utils", None), "data", None)
        info = data.get_worker_info() if data is not None else None
        if info is not None and info.seed != self._worker_seed:
            seq = np.random.SeedSequence(self._entropy, spawn_key=(info.seed,))
            self._gen = np.random.default_rng(seq)
            self._worker_seed = info.seed

    def _draw_batch(self, batch: int, sizes: tuple[int, ...], groups: int, xp: Any,
                    dev: Any) -> tuple[int, _Batch | None]:
        """One draw for the whole batch: whether to mix, the method's code,
        its params (None: the batch is left unmixed)."""
        u_mix, u_cut = self._gen.random(2)
        if u_mix >= self.prob:
            return 0, None
        src = self._source()
        code = int(choose(self._weights(), u_cut))
        if code == CODES["cutmix"]:
            # cutmix_alpha may be 0 where cutmix_minmax turns CutMix on: alpha is unused there
            return code, draw_cutmix(src, batch, sizes, self.cutmix_alpha or 1.0, "batch",
                                     self.pairing, self.correct_lam, self.cutmix_minmax,
                                     groups, xp, dev)
        if code == CODES["mixup"]:
            return code, draw_mixup(src, batch, self.mixup_alpha, "batch", self.pairing,
                                    groups, xp, dev)
        drawn = _Drawn(batch, groups, src, xp, dev, sizes)
        return code, self._draw_family(code, drawn, "batch", self.pairing)

    def _draw_family(self, code: int, d: _Drawn, lam_mode: str, pairing: str) -> Part:
        """The params of the family's method ``code``."""
        if code == CODES["patchmix"]:
            return draw_patchmix(d, check_patch(self.patch, d.sizes), self.patchmix_alpha,
                                 lam_mode, pairing)
        if code == CODES["fmix"]:
            return draw_fmix(d, self.fmix_alpha, self.fmix_decay, lam_mode, pairing)
        if code == CODES["mosaic"]:
            return draw_mosaic(d, self.mosaic_center, lam_mode, pairing)
        return draw_resizemix(d, self.resizemix_scale, lam_mode, pairing)

    def _batch_mode(self, x: Array, c: _Call, out: Array | None
                    ) -> tuple[Array, _Batch | None]:
        _, params = self._draw_batch(c.batch, c.sizes, c.groups, c.backend.xp, c.device)
        b = c.backend
        if params is None:
            if out is None or out is x:
                return x, None
            out[...] = x
            return out, None
        if isinstance(params, MaskParams):
            return b.paste_mask(x, params.perm, params.mask, c.axes, out, c.groups), params
        if isinstance(params, MosaicParams):
            return b.mosaic(x, params.sources, params.centre, c.axes, out, c.groups), params
        if isinstance(params, ResizeMixParams):
            return b.resize_paste(x, params.perm, params.lower, params.upper, c.axes,
                                  c.nearest, out, c.groups), params
        if isinstance(params, CutMixParams):
            return b.paste(x, params.perm, params.lower, params.upper, c.axes, out,
                           c.groups), params
        return b.blend(x, params.lam, params.perm, out, c.groups), params

    def _draw_samples(self, batch: int, sizes: tuple[int, ...], groups: int
                      ) -> _SampleDraw:
        """One draw per sample (or pair), on the host."""
        gen, src, host = self._gen, self._source(), namespace_of(np)
        mixed = gen.random(batch) < self.prob
        weights = self._weights()
        method = np.where(mixed, choose(weights, gen.random(batch)), 0).astype(np.int8)
        cut = method == CODES["cutmix"]
        mix = draw_mixup(src, batch, self.mixup_alpha or 1.0, "sample", self.pairing, groups,
                         host, "cpu")
        # MixUp samples blend with their λ and paste an empty box; CutMix
        # samples blend with λ = 1 (keep themselves) and paste their box;
        # untouched samples and the family's do neither.
        lam_blend = np.where(method == CODES["mixup"], mix.lam, 1.0)
        lam_label = lam_blend
        lower = upper = None
        if sizes and weights.get("cutmix", 0.0) > 0:
            box = draw_cutmix(src, batch, sizes, self.cutmix_alpha or 1.0,  # as above
                              "sample", "flip", self.correct_lam, self.cutmix_minmax, 1, host,
                              "cpu")
            lower = np.where(cut[:, None], box.lower, 0)
            upper = np.where(cut[:, None], box.upper, 0)
            lam_label = np.where(cut, box.lam, lam_blend)
        if self.lam_mode == "pair":  # each pair takes its first member's draws
            lam_blend, lam_label, method = shared_in_pairs(host, mix.perm, lam_blend,
                                                           lam_label, method)
            if lower is not None and upper is not None:
                lower, upper = shared_in_pairs(host, mix.perm, lower, upper)
        parts = []
        for name in self._family():
            users = method == CODES[name]
            if users.any():
                if lam_label is lam_blend:  # a copy to write into
                    lam_label = np.array(lam_label, dtype=np.float64)
                parts.append(self._family_part(CODES[name], users, mix.perm, lam_label, sizes,
                                               groups))
        return _SampleDraw(lam_label, lam_blend, mix.perm, method, lower, upper, tuple(parts))

    def _family_part(self, code: int, users: np.ndarray[Any, Any],
                     partner: np.ndarray[Any, Any], lam_label: np.ndarray[Any, Any],
                     sizes: tuple[int, ...], groups: int) -> Part:
        """A family method's part of a sample mode draw, on the host: drawn
        for its ``users`` and empty for the other samples; their own label
        weights written into ``lam_label``."""
        host, src, batch = namespace_of(np), self._source(), users.shape[0]
        if code == CODES["mosaic"]:  # three partners each: drawn over the whole batch
            p = self._draw_family(code, _Drawn(batch, groups, src, host, "cpu", sizes),
                                  "sample", self.pairing)
            assert isinstance(p, MosaicParams)
            mine = users[:, None]
            own = np.arange(batch)[:, None]
            # the weight of a sample's own label (its quadrants); its partner's
            # is the rest, where the Mosaic shows only itself
            lam_label[users] = np.where(p.sources == own, p.lam, 0.0).sum(axis=1)[users]
            return MosaicParams(np.where(mine, p.lam, [1.0, 0.0, 0.0, 0.0]),
                                np.where(mine, p.sources, own),
                                np.where(mine, p.centre, np.asarray(sizes)), sizes)
        # the others mix with the sample's partner: drawn for the users alone
        n = int(users.sum())
        p = self._draw_family(code, _Drawn(n, 1, src, host, "cpu", sizes), "sample", "flip")
        lam = np.ones(batch)
        lam[users] = lam_label[users] = p.lam
        if isinstance(p, MaskParams):
            mask = np.zeros((batch, *p.mask.shape[1:]), dtype=bool)
            mask[users] = p.mask
            return MaskParams(lam, partner, mask)
        assert isinstance(p, ResizeMixParams)
        lower = np.zeros((batch, len(sizes)), dtype=np.int64)
        upper = lower.copy()
        lower[users], upper[users] = p.lower, p.upper
        return ResizeMixParams(lam, partner, lower, upper, sizes)

    def _sample_mode(self, x: Array, c: _Call) -> tuple[Array, MixParams, tuple[Part, ...]]:
        d = self._draw_samples(c.batch, c.sizes, c.groups)
        xp, dev = c.backend.xp, c.device
        fdt, idt = default_float(xp, dev), default_index(xp, dev)
        perm = from_host(xp, d.perm, idt, dev)
        lam = from_host(xp, d.lam_label, fdt, dev)
        lam_blend = from_host(xp, d.lam_blend, fdt, dev)
        keep = d.method != 1  # the samples not blended: copies, not blends with weight 1
        if keep.any() and not exact_at_one(xp, x.dtype):
            x_out = c.backend.blend_keeping(x, lam_blend, perm, from_host(xp, keep, xp.bool, dev),
                                            c.groups)
        else:
            x_out = c.backend.blend(x, lam_blend, perm, None, c.groups)
        if d.lower is not None and d.upper is not None:
            boxes = CutMixParams(lam, perm, from_host(xp, d.lower, idt, dev),
                                 from_host(xp, d.upper, idt, dev))
            x_out = c.backend.mix_part(x, boxes, x_out, c.axes, c.nearest, c.groups)
        parts = _placed(d.parts, xp, dev)
        if parts:
            x_out = paste_parts(c.backend, x, x_out, parts, c.axes, c.nearest, c.groups)
        return x_out, MixParams(lam, perm), parts

    def _source(self) -> Source:
        return source(self._gen)


class _SampleDraw(NamedTuple):
    """A sample-mode draw on the host: label and pixel weights, partners,
    method (0 untouched, 1 MixUp, 2 CutMix, 3-6 the family's), CutMix boxes
    (None without CutMix) and the family's parts."""

    lam_label: np.ndarray[Any, Any]
    lam_blend: np.ndarray[Any, Any]
    perm: np.ndarray[Any, Any]
    method: np.ndarray[Any, Any]
    lower: np.ndarray[Any, Any] | None
    upper: np.ndarray[Any, Any] | None
    parts: tuple[Part, ...] = ()


def _placed(parts: tuple[Part, ...], xp: Any, dev: Any) -> tuple[Part, ...]:
    """Host parts of a draw as ``xp`` arrays on ``dev``."""
    fdt, idt = default_float(xp, dev), default_index(xp, dev)
    placed: list[Part] = []
    for p in parts:
        if isinstance(p, MaskParams):
            placed.append(MaskParams(from_host(xp, p.lam, fdt, dev),
                                     from_host(xp, p.perm, idt, dev),
                                     from_host(xp, p.mask, xp.bool, dev)))
        elif isinstance(p, MosaicParams):
            placed.append(MosaicParams(from_host(xp, p.lam, fdt, dev),
                                       from_host(xp, p.sources, idt, dev),
                                       from_host(xp, p.centre, idt, dev), p.sizes))
        else:
            placed.append(ResizeMixParams(from_host(xp, p.lam, fdt, dev),
                                          from_host(xp, p.perm, idt, dev),
                                          from_host(xp, p.lower, idt, dev),
                                          from_host(xp, p.upper, idt, dev), p.sizes))
    return tuple(placed)


#: What a batch mode draw gives.
_Batch = MixParams | CutMixParams | MaskParams | MosaicParams | ResizeMixParams


class _Call(NamedTuple):
    """What a Mixer call has checked of its batch."""

    backend: Reference
    batch: int
    sizes: tuple[int, ...]
    axes: tuple[int, ...]
    groups: int
    device: Any
    nearest: bool  # ResizeMix resizes integer data by nearest neighbour


def _optional_count(name: str, minimum: int) -> Any:
    return lambda v: None if v is None else check_count(v, name, minimum=minimum)


#: Each setting of a Mixer and its check (which returns the value to keep).
_SETTINGS: dict[str, Any] = {
    "mixup_alpha": lambda v: check_alpha(v, "mixup_alpha", allow_zero=True),
    "cutmix_alpha": lambda v: check_alpha(v, "cutmix_alpha", allow_zero=True),
    "cutmix_minmax": lambda v: check_minmax(v, "cutmix_minmax"),
    "prob": lambda v: check_real(v, "prob", low=0.0, high=1.0),
    "switch_prob": lambda v: check_real(v, "switch_prob", low=0.0, high=1.0),
    "lam_mode": lambda v: check_choice(v, "lam_mode", LAM_MODES),
    "pairing": lambda v: check_choice(v, "pairing", PAIRINGS),
    "correct_lam": lambda v: check_bool(v, "correct_lam"),
    "label_smoothing": lambda v: check_real(v, "label_smoothing", low=0.0, high=1.0,
                                            high_open=True),
    "num_classes": _optional_count("num_classes", 1),
    "cutmix_axes": lambda v: _axes_spec(v),
    "groups": _optional_count("groups", 1),
    "union": lambda v: check_bool(v, "union"),
    "methods": check_methods,
    "patch": lambda v: _patch_spec(v),
    "patchmix_alpha": lambda v: check_alpha(v, "patchmix_alpha"),
    "fmix_alpha": lambda v: check_alpha(v, "fmix_alpha"),
    "fmix_decay": lambda v: check_real(v, "fmix_decay", low=0.0, high=math.inf),
    "mosaic_center": lambda v: check_minmax(v, "mosaic_center", "centre fractions"),
    "resizemix_scale": lambda v: check_minmax(v, "resizemix_scale", "box side fractions"),
}

#: The family's settings as a Mixer's state held them before they existed.
_FAMILY_DEFAULTS: dict[str, Any] = {
    "methods": None, "patch": 16, "patchmix_alpha": 1.0, "fmix_alpha": 1.0,
    "fmix_decay": 3.0, "mosaic_center": list(CENTER), "resizemix_scale": list(SCALE),
}


def _patch_spec(patch: Any) -> int | tuple[int, ...]:
    """The patch lengths, checked before the cut axes are known."""
    if isinstance(patch, Sequence) and not isinstance(patch, (str, bytes)):
        return tuple(check_count(p, f"patch[{i}]", minimum=1) for i, p in enumerate(patch))
    return check_count(patch, "patch", minimum=1)


def _axes_spec(axes: Any) -> tuple[int, ...]:
    """What can be checked of the cut axes before the batch's ndim is known."""
    if isinstance(axes, type(DEFAULT_AXES)):  # kept as the default (see check_axes)
        return axes
    spec = axes_tuple(axes, "cutmix_axes")
    if 0 in spec or len(set(spec)) != len(spec):
        raise ValueError(
            "cutmix_axes must name one to three distinct axes other than the batch "
            f"axis 0, got {spec}"
        )
    return spec
