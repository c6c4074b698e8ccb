"""Parameters of one mix: plain data, drawn once, applied to any number of arrays.

They are ``NamedTuple`` s of arrays, so they print, pickle, log and replay as
they are, and pass through ``jax.jit``, ``jax.vmap`` and ``torch.compile`` as
ordinary pytrees / tuples of tensors.
"""

from __future__ import annotations

from typing import NamedTuple

from ._compat import Array

__all__ = ["CutMixParams", "MixParams"]


class MixParams(NamedTuple):
    """What :func:`blend` needs: the mixing weights and the partners.

    Attributes
    ----------
    lam : array
        Weight of each original sample, real floating, in ``[0, 1]``: shape
        ``()`` for one weight for the whole batch, ``(B,)`` for one per sample.
    perm : array
        Integer array of shape ``(B,)``: sample ``i`` is mixed with sample
        ``perm[i]``. A permutation of ``0 .. B-1``.

    Examples
    --------
    >>> import numpy as np
    >>> import arraymix
    >>> p = arraymix.MixParams(lam=np.asarray(0.75), perm=np.asarray([1, 0]))
    >>> arraymix.blend(np.asarray([0.0, 4.0]), p)
    array([1., 3.])
    """

    lam: Array
    perm: Array


class CutMixParams(NamedTuple):
    """What :func:`paste` needs: the partners and the box of each sample.

    Attributes
    ----------
    lam : array
        Label weight of each original sample, in ``[0, 1]``: shape ``()``
        (batch mode) or ``(B,)`` (sample mode). With ``correct_lam`` it is the
        fraction of elements that keep their own value.
    perm : array
        Integer array of shape ``(B,)``: the box in sample ``i`` is cut from
        sample ``perm[i]``.
    lower, upper : array
        Integer arrays of shape ``(k,)`` (one box for the batch) or ``(B, k)``
        (one box per sample), ``k`` the number of cut axes: the box is
        ``lower[j] <= index_j < upper[j]`` on the ``j``-th cut axis.

    Examples
    --------
    >>> import numpy as np
    >>> import arraymix
    >>> p = arraymix.CutMixParams(lam=np.asarray(0.5), perm=np.asarray([1, 0]),
    ...                           lower=np.asarray([0]), upper=np.asarray([2]))
    >>> arraymix.paste(np.asarray([[1, 1, 1, 1], [2, 2, 2, 2]]), p, axes=(-1,))
    array([[2, 2, 1, 1],
           [1, 1, 2, 2]])
    """

    lam: Array
    perm: Array
    lower: Array
    upper: Array
