"""NumPy: a scikit-learn-style classifier trained on mixed tabular features.

A softmax regression with fit/predict, trained by gradient descent on
batches mixed with arraymix (features and one-hot targets), compared with the
same model trained without mixing.

    python examples/numpy_features.py
    python examples/numpy_features.py --tiny
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import arraymix


class SoftmaxRegression:
    """fit(X, y) / predict(X), with optional mixup of every batch."""

    def __init__(self, epochs: int = 100, lr: float = 0.1, mixup_alpha: float | None = None,
                 seed: int = 0) -> None:
        self.epochs, self.lr, self.mixup_alpha, self.seed = epochs, lr, mixup_alpha, seed

    def fit(self, x: np.ndarray, y: np.ndarray) -> SoftmaxRegression:
        classes = int(y.max()) + 1
        gen = np.random.default_rng(self.seed)
        self.w_ = np.zeros((x.shape[1], classes))
        for _ in range(self.epochs):
            for idx in np.array_split(gen.permutation(len(x)), max(1, len(x) // 64)):
                xb, yb = x[idx], arraymix.one_hot(y[idx], classes)
                if self.mixup_alpha:
                    xb, yb = arraymix.mixup(x[idx], y[idx], num_classes=classes,
                                            alpha=self.mixup_alpha, rng=gen)
                logits = xb @ self.w_
                p = np.exp(logits - logits.max(axis=1, keepdims=True))
                p /= p.sum(axis=1, keepdims=True)
                self.w_ -= self.lr * xb.T @ (p - yb) / len(xb)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.argmax(x @ self.w_, axis=1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tiny", action="store_true")
    args = parser.parse_args()
    data = load_breast_cancer()
    x_train, x_test, y_train, y_test = train_test_split(data.data, data.target,
                                                        test_size=0.3, random_state=0)
    scaler = StandardScaler().fit(x_train)
    x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)
    epochs = 5 if args.tiny else 100
    for name, alpha in (("plain", None), ("mixup", 0.4)):
        model = SoftmaxRegression(epochs=epochs, mixup_alpha=alpha).fit(x_train, y_train)
        print(f"{name}: test accuracy {np.mean(model.predict(x_test) == y_test):.3f}")


if __name__ == "__main__":
    main()
