"""Keras-CV's FourierMix against arraymix's FMix (a mask per sample, NumPy),
on one 64×224×224×3 float32 batch with 1000-class one-hot labels,
interleaved, medians.

Keras-CV needs TensorFlow, which the project does not install: run this
with an interpreter that has both arraymix and keras-cv (or put a
keras-cv environment's site-packages on PYTHONPATH).

    python dev/fourier_mix.py --rounds 7
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras_cv
import numpy as np
import tensorflow as tf

import arraymix


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    gen = np.random.default_rng(0)
    x = gen.random((64, 224, 224, 3), dtype=np.float32)
    ids = gen.integers(0, 1000, 64)
    images, labels = tf.constant(x), tf.one_hot(ids, 1000)
    layer = keras_cv.layers.FourierMix(alpha=1.0, seed=0)
    rng = np.random.default_rng(1)
    cases = {
        "keras-cv FourierMix": lambda: layer({"images": images, "labels": labels}),
        "arraymix fmix, a mask per sample": lambda: arraymix.fmix(
            x, ids, num_classes=1000, axes=(1, 2), lam_mode="sample", rng=rng),
        "arraymix fmix, one mask": lambda: arraymix.fmix(
            x, ids, num_classes=1000, axes=(1, 2), rng=rng),
    }
    for f in cases.values():  # TensorFlow traces its functions on the first call
        f()
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(args.rounds):
        for name, f in cases.items():
            start = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - start)
    base = float(np.median(times["arraymix fmix, a mask per sample"]))
    for name, t in times.items():
        m = float(np.median(t))
        print(f"{name:36s} {m * 1e3:9.2f} ms  × arraymix per sample {m / base:6.2f}")


if __name__ == "__main__":
    main()
