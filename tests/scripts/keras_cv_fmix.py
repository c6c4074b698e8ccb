"""Keras-CV's FourierMix on images of one value each (the sample's index),
run apart from the tests (TensorFlow): saves each output's own-pixel mask,
the partner read off it (-1 where it is the sample itself) and the label
weight Keras-CV gives the sample's own label.

Usage: keras_cv_fmix.py OUT.npz COUNT SIZE DECAY
"""

import os
import sys

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

import keras_cv
import numpy as np
import tensorflow as tf

path, count, size, decay = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
tf.random.set_seed(0)
layer = keras_cv.layers.FourierMix(alpha=1.0, decay_power=decay, seed=0)
batch = 50
index = np.arange(batch, dtype=np.float32)[:, None, None]
own, partner, lam = [], [], []
for _ in range(count // batch):
    images = np.broadcast_to(index[..., None], (batch, size, size, 1)).copy()
    out = layer({"images": tf.constant(images),
                 "labels": tf.constant(np.eye(batch, dtype=np.float32))})
    values = np.asarray(out["images"])[..., 0]
    mine = values == index
    own.append(mine)
    partner.append(np.where(mine, -1.0, values).max(axis=(1, 2)))
    lam.append(np.diagonal(np.asarray(out["labels"])))
np.savez(path, own=np.concatenate(own), partner=np.concatenate(partner),
         lam=np.concatenate(lam))
