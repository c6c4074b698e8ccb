"""At scale: groups, sharded JAX, Dask, DataLoader workers, torch.distributed,
and the examples. Multi-device and multi-process checks run in subprocesses."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import arraymix
from reference import check_like, lam_as_used, ref_blend, ref_one_hot, ref_paste

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "tests" / "scripts"


def _run(*args: str, timeout: int = 120) -> str:
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          timeout=timeout, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@settings(max_examples=20)
@given(groups=st.integers(1, 6), size=st.integers(2, 7), seed=st.integers(0, 2**32 - 1),
       pairing=st.sampled_from(["permute", "derange", "flip", "roll"]),
       lam_mode=st.sampled_from(["batch", "sample"]))
def test_groups_keep_pairs_inside_and_match_the_reference(backend, groups, size, seed,
                                                          pairing, lam_mode):
    batch = groups * size
    kw = {"lam_mode": lam_mode, "pairing": pairing, "groups": groups}
    gen = np.random.default_rng(seed)
    xnp = gen.normal(size=(batch, 2, 5, 5)).astype(np.float32)
    ids = gen.integers(0, 3, size=batch)
    x, y = backend.asarray(xnp), backend.asarray(ids)
    xm, ym = backend.call(arraymix.mixup, x, y, num_classes=3, rng=seed, **kw)
    xc, _ = backend.call(arraymix.cutmix, x, y, num_classes=3, rng=seed, **kw)
    check_like(backend, xm, xnp.shape, x.dtype)
    check_like(backend, xc, xnp.shape, x.dtype)
    p = arraymix.sample_mixup(seed, batch, **kw)
    assert np.all(p.perm // size == np.arange(batch) // size)  # partners in the group
    assert sorted(p.perm.tolist()) == list(range(batch))
    if pairing == "derange":
        assert not np.any(p.perm == np.arange(batch))
    if backend.has_values:
        lam = lam_as_used(backend, p.lam, "float32")
        np.testing.assert_allclose(backend.numpy(xm), ref_blend(xnp, lam, p.perm), atol=1e-5)
        np.testing.assert_allclose(backend.numpy(ym), ref_blend(ref_one_hot(ids, 3), lam,
                                                                p.perm), atol=1e-6)
        c = arraymix.sample_cutmix(seed, batch, (5, 5), **kw)
        np.testing.assert_array_equal(backend.numpy(xc),
                                      ref_paste(xnp, c.perm, c.lower, c.upper, (-2, -1)))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"groups": 3}, ValueError, "groups=3 must divide the batch size 8"),
        ({"groups": 0}, ValueError, "groups must be >= 1"),
        ({"groups": 2.0}, TypeError, "groups must be an int"),
        ({"groups": 8, "pairing": "derange"}, ValueError, "at least 2 samples per group"),
    ],
)
def test_bad_groups(kwargs, error, match):
    x = np.zeros((8, 3, 4, 4))
    for fn in (arraymix.mixup, arraymix.cutmix):
        with pytest.raises(error, match=match):
            fn(x, **kwargs)
    with pytest.raises(error, match=match):
        arraymix.sample_mixup(0, 8, **kwargs)
    with pytest.raises(error, match=match):
        arraymix.Mixer(**kwargs)(x)


def test_jax_sharded_batch_mixes_without_moving_the_batch():
    pytest.importorskip("jax", reason="jax is not installed")
    report = json.loads(_run(str(SCRIPTS / "sharded_jax.py")).strip().splitlines()[-1])
    assert report["devices"] == 8
    for name in ("mixup", "cutmix"):
        grouped = report[f"{name}/groups=8"]
        # nothing moves between devices: not the batch, and not a loop's
        # predicate (the JAX source draws its Beta without one)
        assert grouped["collectives"] == {}
        assert grouped["same_sharding"]
        assert grouped["pairs_in_shard"]
        assert grouped["label_rows_sum_to_1"]
        # the trade-off without groups: the whole batch is gathered to every device
        assert "f32[32,3,8,8]{3,2,1,0}" in report[f"{name}/groups=None"]["collectives"][
            "all-gather"]
    assert report["shard_map"]["collectives"] == {}
    assert report["shard_map"]["same_sharding"]
    assert report["shard_map"]["within_shard"]


def _dask_inputs():
    da = pytest.importorskip("dask.array", reason="dask[array] is not installed")
    gen = np.random.default_rng(0)
    xnp = gen.normal(size=(8, 2, 6, 6)).astype(np.float32)
    ids = gen.integers(0, 5, size=8)
    return da, xnp, ids, da.from_array(xnp, chunks=(2, 2, 6, 6)), da.from_array(ids, chunks=2)


def test_dask_stays_lazy_and_chunk_local():
    dask = pytest.importorskip("dask", reason="dask is not installed")
    from dask.core import get_dependencies

    _, xnp, _, x, y = _dask_inputs()
    computes = []

    def counting_scheduler(dsk, keys, **kwargs):
        computes.append(keys)
        return dask.get(dsk, keys, **kwargs)

    with dask.config.set(scheduler=counting_scheduler):
        xm, ym = arraymix.mixup(x, y, num_classes=5, groups=4, rng=3, lam_mode="sample")
        xc, yc = arraymix.cutmix(x, y, num_classes=5, groups=4, rng=3, lam_mode="sample")
    assert computes == []  # nothing ran
    for labels in (ym, yc):
        assert type(labels) is type(x)
        assert labels.chunks == ((2, 2, 2, 2), (5,))
    for out in (xm, xc):
        assert type(out) is type(x)
        assert out.chunks[0] == (2, 2, 2, 2)
        graph = dict(out.__dask_graph__())
        for chunk in range(4):  # output chunk i reads input chunk i only
            seen, stack, read = set(), [(out.name, chunk, 0, 0, 0)], set()
            while stack:
                key = stack.pop()
                if key in seen:
                    continue
                seen.add(key)
                if isinstance(key, tuple) and key[0] == x.name:
                    read.add(key[1])
                stack.extend(get_dependencies(graph, key))
            assert read == {chunk}
    p = arraymix.sample_mixup(3, 8, groups=4, lam_mode="sample")
    np.testing.assert_allclose(xm.compute(), arraymix.blend(xnp, p), rtol=1e-6)
    c = arraymix.sample_cutmix(3, 8, (6, 6), groups=4, lam_mode="sample")
    np.testing.assert_array_equal(xc.compute(), arraymix.paste(xnp, c))


def test_dask_on_a_local_cluster():
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    _, xnp, ids, x, y = _dask_inputs()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        xm, ym = arraymix.mixup(x, y, num_classes=5, groups=4, rng=1)
        got_x, got_y = xm.compute(), ym.compute()
    p = arraymix.sample_mixup(1, 8, groups=4)
    np.testing.assert_allclose(got_x, arraymix.blend(xnp, p), rtol=1e-6)
    np.testing.assert_allclose(got_y, arraymix.blend(arraymix.one_hot(ids, 5,
                                                                     dtype=np.float32), p))


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_dataloader_workers_draw_independently_and_reproducibly(context):
    """In a fresh process (forking a process that runs JAX's threads is unsafe)."""
    pytest.importorskip("torch", reason="torch is not installed")
    code = ("import json, sys, warnings; sys.path.insert(0, sys.argv[1]); "
            "warnings.filterwarnings('ignore', 'This DataLoader will create'); "
            "import loader_helpers as h; "
            "print(json.dumps([h.run(sys.argv[2]), h.run(sys.argv[2])]))")
    first, again = json.loads(_run("-c", code, str(SCRIPTS), context).strip().splitlines()[-1])
    # every batch holds the same 16 samples: equal draws would give equal rows
    assert len({tuple(b) for b in first}) == len(first) == 8
    assert again == first  # the same seeds, the same batches


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_torch_distributed_ranks_differ_and_reproduce():
    pytest.importorskip("torch.distributed", reason="torch is not installed")
    script = str(SCRIPTS / "distributed_torch.py")
    first = json.loads(_run(script, "7", str(_free_port())).strip().splitlines()[-1])
    again = json.loads(_run(script, "7", str(_free_port())).strip().splitlines()[-1])
    other = json.loads(_run(script, "8", str(_free_port())).strip().splitlines()[-1])
    assert len(first) == 2
    assert first[0] != first[1]  # ranks draw different λ and partners
    assert first == again  # rerunning with the same seed reproduces each rank
    assert first != other
    assert all(rank[-1] == 1.0 for rank in first)  # state_dict resumes each rank's stream


@pytest.mark.filterwarnings("ignore:This DataLoader will create")
@pytest.mark.parametrize(("script", "needs"), [("torch_train.py", "torch"),
                                               ("jax_sharded.py", "jax"),
                                               ("numpy_features.py", "sklearn")])
def test_examples_run(script, needs):
    pytest.importorskip(needs, reason=f"{needs} is not installed")
    out = _run(str(ROOT / "examples" / script), "--tiny", timeout=300)
    assert out.strip()
