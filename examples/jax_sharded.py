"""JAX: a jitted train step on a batch sharded over devices, mixed with groups.

With groups = the number of devices, every sample's partner lives on its own
device, so the mix adds no communication to the step (a global permutation
would all-gather the batch). On a CPU the script asks XLA for 8 devices.

    python examples/jax_sharded.py           # 200 steps
    python examples/jax_sharded.py --tiny    # what the tests run
"""

from __future__ import annotations

import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")

import argparse

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

import arraymix


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tiny", action="store_true")
    args = parser.parse_args()
    devices = jax.devices()
    mesh = Mesh(np.array(devices), ("batch",))
    batch_sharding = NamedSharding(mesh, P("batch"))
    replicated = NamedSharding(mesh, P())
    rng = np.random.default_rng(0)
    features, classes, batch = 32, 4, 16 * len(devices)
    true_w = rng.normal(size=(features, classes))

    def loss_fn(w, x, y):
        return -jnp.mean(jnp.sum(y * jax.nn.log_softmax(x @ w), axis=-1))

    @jax.jit
    def train_step(w, x, labels, key):
        x, y = arraymix.mixup(x, labels, num_classes=classes, alpha=0.4,
                              groups=len(devices), rng=key)
        loss, grad = jax.value_and_grad(loss_fn)(w, x, y)
        return w - 0.5 * grad, loss

    w = jax.device_put(jnp.zeros((features, classes)), replicated)
    key = jax.random.key(0)
    for step in range(20 if args.tiny else 200):
        x_host = rng.normal(size=(batch, features)).astype(np.float32)
        labels_host = (x_host @ true_w).argmax(axis=1)
        x = jax.device_put(x_host, batch_sharding)
        labels = jax.device_put(labels_host, batch_sharding)
        key, sub = jax.random.split(key)
        w, loss = train_step(w, x, labels, sub)
        if step % 10 == 0:
            print(f"step {step}: loss {float(loss):.4f} on {len(devices)} devices")


if __name__ == "__main__":
    main()
