"""Run in a fresh process: 8 JAX CPU devices, a batch sharded over them.

Prints one JSON line: for each call, the collectives in the compiled program,
whether the output keeps the input's sharding, and a check of the values.
"""

import os

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"

import json
import re

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

import arraymix

COLLECTIVES = ("all-gather", "all-to-all", "collective-permute", "all-reduce", "reduce-scatter")


def collectives(fn, *args):
    text = fn.lower(*args).compile().as_text()
    found = {}
    for line in text.splitlines():
        for name in COLLECTIVES:
            if re.search(rf"= \S+ {name}(-start)?\(", line):
                shape = line.split("=")[1].split()[0]
                found.setdefault(name, []).append(shape)
    return found


mesh = Mesh(np.array(jax.devices()), ("batch",))
sharding = NamedSharding(mesh, P("batch"))
x = jax.device_put(jnp.arange(32 * 3 * 8 * 8, dtype=jnp.float32).reshape(32, 3, 8, 8), sharding)
y = jax.device_put(jnp.arange(32) % 10, sharding)
key = jax.random.key(0)
report = {"devices": len(jax.devices())}
for name in ("mixup", "cutmix"):
    for groups in (8, None):
        op = getattr(arraymix, name)
        fn = jax.jit(lambda x, y, k, op=op, g=groups: op(x, y, num_classes=10, groups=g, rng=k,
                                                         lam_mode="sample"))
        xm, ym = fn(x, y, key)
        report[f"{name}/groups={groups}"] = {
            "collectives": collectives(fn, x, y, key),
            "same_sharding": xm.sharding.is_equivalent_to(x.sharding, x.ndim),
            "label_rows_sum_to_1": bool(jnp.allclose(ym.sum(-1), 1.0, atol=1e-5)),
        }
        if groups:  # every sample's partner is in its own shard of 4
            p = arraymix.sample_mixup(key, 32, groups=8, lam_mode="sample", alpha=0.2)
            perm = np.asarray(p.perm)
            report[f"{name}/groups={groups}"]["pairs_in_shard"] = bool(
                np.all(perm // 4 == np.arange(32) // 4))

# shard_map: each device mixes its own shard with its own key
from jax import shard_map  # noqa: E402


def local(x, y, key):
    k = jax.random.fold_in(key[0], jax.lax.axis_index("batch"))
    return arraymix.mixup(x, y, num_classes=10, rng=k, pairing="derange")


keys = jax.device_put(jnp.stack([key] * 8), sharding)
fn = jax.jit(shard_map(local, mesh=mesh, in_specs=(P("batch"), P("batch"), P("batch")),
                       out_specs=(P("batch"), P("batch"))))
xm, ym = fn(x, y, keys)
shards = np.asarray(xm).reshape(8, 4, -1)
source = np.asarray(x).reshape(8, 4, -1)
report["shard_map"] = {
    "collectives": collectives(fn, x, y, keys),
    "same_sharding": xm.sharding.is_equivalent_to(x.sharding, x.ndim),
    # every mixed sample is a blend of samples of its own shard: its values lie
    # within the min..max of that shard's samples, position by position
    "within_shard": bool(np.all((shards >= source.min(1, keepdims=True) - 1e-4)
                                & (shards <= source.max(1, keepdims=True) + 1e-4))),
}
print(json.dumps(report))
