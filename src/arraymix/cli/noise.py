"""The label-noise study of ``arraymix experiment``: does MixUp keep a
network from memorising corrupt labels, as Zhang et al. (ICLR 2018,
Table 2) found on CIFAR-10?

A small convolutional network trains on half of scikit-learn's digits,
with a share of the training labels replaced by other classes (the test
labels stay clean), by plain training (ERM) and by MixUp at the paper's α
values; the test error is read after every epoch, so the table gives it at
the best epoch and at the last, as the paper does. The last-epoch column
is where memorisation shows.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _need

#: The shares of corrupt training labels; 0 is the baseline.
NOISE = (0.0, 0.2, 0.5, 0.8)
#: MixUp's α under label noise in the paper (8 at 20 %, 32 at 50 % and 80 %).
ALPHAS = (8.0, 32.0)
#: The dropout rate of the ERM + dropout rows (before the last layer); the
#: paper's baseline swept several rates, one is run here.
DROPOUT = 0.5
DROPOUT_ROW = f"erm + dropout {DROPOUT:g}"
#: Zhang et al. 2018, Table 2 (CIFAR-10, PreAct ResNet-18, 200 epochs):
#: test error in % at the best and at the last epoch, and MixUp's α.
PUBLISHED: dict[float, dict[str, Any]] = {
    0.2: {"erm": (12.7, 16.6), "mixup": (5.9, 6.4), "alpha": 8.0},
    0.5: {"erm": (18.8, 44.6), "mixup": (11.3, 12.7), "alpha": 32.0},
    0.8: {"erm": (36.5, 73.9), "mixup": (25.3, 30.9), "alpha": 32.0},
}
CLASSES = 10
#: White-box attacks on the networks trained on clean labels: steps of each.
ATTACKS = {"fgsm": 1, "i-fgsm": 10}
#: Their L∞ budgets, on pixels in [0, 1].
EPSILONS = (0.05, 0.1, 0.2)
#: Zhang et al. 2018, Table 3(a) (ImageNet, ResNet-101, white box): top-1
#: error in % under FGSM and I-FGSM.
PUBLISHED_ATTACKS = {"erm": {"fgsm": 90.7, "i-fgsm": 99.9},
                     "mixup": {"fgsm": 75.2, "i-fgsm": 99.6}}
MODEL = ("CNN: conv 3x3 32, ReLU, conv 3x3 64, ReLU, max-pool 2, dense 128, ReLU, "
         "dense 10")
DATA = "sklearn digits (8x8), 898 train / 899 test, stratified, split by seed"
OPTIMIZER = "SGD lr 0.02 momentum 0.9 weight decay 5e-4, batch about 64, no augmentation"
RULE = ("reproduced: the difference has the paper's sign and exceeds two standard "
        "errors of the per-seed differences (paired by seed: the same split, noise and "
        "initialisation); contradicted: the opposite sign beyond two standard errors; "
        "else inconclusive (always, with a single seed)")


def corrupt(labels: np.ndarray, share: float, rng: np.random.Generator
            ) -> tuple[np.ndarray, np.ndarray]:
    """``labels`` with ``round(share · n)`` of them, chosen at random,
    replaced by another class drawn uniformly; and the mask of those."""
    n = labels.size
    wrong = np.zeros(n, dtype=bool)
    wrong[rng.choice(n, size=round(share * n), replace=False)] = True
    shift = rng.integers(1, CLASSES, size=n)  # never 0: always another class
    noisy = np.where(wrong, (labels + shift) % CLASSES, labels)
    return noisy, wrong


def verdict(diffs: Sequence[float], sign: int) -> str:
    """The rule of :data:`RULE` on per-seed differences whose expected sign
    (the paper's) is ``sign``."""
    d = np.asarray(diffs, dtype=np.float64)
    if d.size < 2:
        return "inconclusive"
    se = float(d.std(ddof=1) / math.sqrt(d.size))
    mean = float(d.mean())
    if abs(mean) <= 2 * se or mean == 0:
        return "inconclusive"
    return "reproduced" if np.sign(mean) == sign else "contradicted"


def split(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Half of the digits for training, half for testing, stratified by class."""
    datasets = _need("sklearn.datasets", "experiment")
    selection = _need("sklearn.model_selection", "experiment")
    digits = datasets.load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None]  # (1797, 1, 8, 8)
    parts: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] = tuple(
        selection.train_test_split(images, digits.target.astype(np.int64), test_size=0.5,
                                   random_state=seed, stratify=digits.target))
    return parts


def torch_cnn(dropout: float = 0.0) -> Any:
    """The :data:`MODEL` network in torch, with ``dropout`` before its last
    layer (0: none)."""
    nn = _need("torch", "torch").nn
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(64 * 16, 128), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(128, 10))


def jax_cnn_init(key: Any) -> dict[str, Any]:
    """He-initialised parameters of the :data:`MODEL` network in JAX."""
    jax = _need("jax", "jax")
    jnp = jax.numpy
    keys = jax.random.split(key, 4)

    def dense(k: Any, fan_in: int, shape: tuple[int, ...]) -> Any:
        return jax.random.normal(k, shape) * math.sqrt(2.0 / fan_in)

    return {"c1": dense(keys[0], 9, (32, 1, 3, 3)), "b1": jnp.zeros(32),
            "c2": dense(keys[1], 288, (64, 32, 3, 3)), "b2": jnp.zeros(64),
            "w3": dense(keys[2], 1024, (1024, 128)), "b3": jnp.zeros(128),
            "w4": dense(keys[3], 128, (128, 10)), "b4": jnp.zeros(10)}


def jax_cnn(p: Any, x: Any, key: Any = None, dropout: float = 0.0) -> Any:
    """The :data:`MODEL` network's logits for ``x`` of shape (N, 1, 8, 8);
    with a ``key``, ``dropout`` before the last layer (training)."""
    import jax
    import jax.numpy as jnp

    conv = jax.lax.conv_general_dilated
    h = jax.nn.relu(conv(x, p["c1"], (1, 1), "SAME") + p["b1"][:, None, None])
    h = jax.nn.relu(conv(h, p["c2"], (1, 1), "SAME") + p["b2"][:, None, None])
    h = jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
    h = jax.nn.relu(h.reshape(h.shape[0], -1) @ p["w3"] + p["b3"])
    if key is not None and dropout > 0:
        keep = jax.random.bernoulli(key, 1.0 - dropout, h.shape)
        h = jnp.where(keep, h / (1.0 - dropout), 0.0)
    return h @ p["w4"] + p["b4"]


def _torch_curve(xtr: np.ndarray, ytr: np.ndarray, xte: np.ndarray, yte: np.ndarray,
                 alpha: float, dropout: float, seed: int, epochs: int,
                 budgets: Sequence[float]) -> tuple[list[float], dict[str, list[float]]]:
    """Test error after each epoch of a small CNN trained in torch, and the
    trained network's error under FGSM and I-FGSM at each of ``budgets``."""
    import arraymix

    torch = _need("torch", "torch")
    torch.manual_seed(seed)
    nn = torch.nn
    model = torch_cnn(dropout)
    opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9, weight_decay=5e-4)
    x_all, y_all = torch.asarray(xtr), torch.asarray(ytr)
    x_test, y_test = torch.asarray(xte), torch.asarray(yte)
    order, draws = np.random.default_rng(seed), np.random.default_rng(seed + 1)
    errors = []
    for _ in range(epochs):
        model.train()
        for idx in np.array_split(order.permutation(len(xtr)), max(len(xtr) // 64, 1)):
            x, y = x_all[idx], y_all[idx]
            if alpha > 0:
                x, y = arraymix.mixup(x, y, alpha=alpha, num_classes=CLASSES, rng=draws)
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            wrong = (model(x_test).argmax(dim=1) != y_test).float().mean()
        errors.append(float(wrong))
    if not budgets:
        return errors, {}

    def attacked(eps: float, steps: int) -> float:
        """White-box: ``steps`` signed-gradient steps of ``eps / steps``, kept
        within ``eps`` of the image and in [0, 1] (one step: FGSM)."""
        x = x_test.clone()
        for _ in range(steps):
            x.requires_grad_(True)
            loss = nn.functional.cross_entropy(model(x), y_test)
            (grad,) = torch.autograd.grad(loss, x)
            with torch.no_grad():
                x = x + eps / steps * grad.sign()
                x = torch.minimum(torch.maximum(x, x_test - eps), x_test + eps).clamp(0, 1)
        with torch.no_grad():
            return float((model(x).argmax(dim=1) != y_test).float().mean())

    return errors, {name: [attacked(eps, steps) for eps in budgets]
                    for name, steps in ATTACKS.items()}


@functools.cache
def _jax_steps(alpha: float, dropout: float) -> tuple[Any, Any, Any]:
    """The jitted training step (which draws its mix from a key: no host
    draws in the loop) and test error of the JAX network, made once per α
    and dropout rate."""
    import arraymix

    jax = _need("jax", "jax")
    jnp = jax.numpy
    forward = jax_cnn

    def loss(p: Any, x: Any, y: Any, key: Any = None) -> Any:
        logits = forward(p, x, key, dropout)
        return -jnp.mean(jnp.sum(y * jax.nn.log_softmax(logits), axis=-1))

    def step(p: Any, v: Any, key: Any, x: Any, ids: Any) -> Any:
        key, drop = jax.random.split(key)
        if alpha > 0:
            x, y = arraymix.mixup(x, ids, alpha=alpha, num_classes=CLASSES, rng=key)
        else:
            y = arraymix.one_hot(ids, CLASSES)
        g = jax.grad(loss)(p, x, y, drop)
        v = jax.tree.map(lambda v_, g_, p_: 0.9 * v_ + g_ + 5e-4 * p_, v, g, p)
        return jax.tree.map(lambda p_, v_: p_ - 0.02 * v_, p, v), v

    def error(p: Any, x: Any, y: Any) -> Any:
        return jnp.mean(jnp.argmax(forward(p, x), axis=1) != y)

    def attacked(p: Any, x: Any, y: Any, eps: Any, steps: int) -> Any:
        """As the torch network's ``attacked``."""
        def ce(z: Any) -> Any:
            return loss(p, z, jax.nn.one_hot(y, CLASSES))

        def move(_: Any, z: Any) -> Any:
            z = z + eps / steps * jnp.sign(jax.grad(ce)(z))
            return jnp.clip(jnp.clip(z, x - eps, x + eps), 0.0, 1.0)

        return error(p, jax.lax.fori_loop(0, steps, move, x), y)

    return jax.jit(step), jax.jit(error), jax.jit(attacked, static_argnums=4)


def _jax_curve(xtr: np.ndarray, ytr: np.ndarray, xte: np.ndarray, yte: np.ndarray,
               alpha: float, dropout: float, seed: int, epochs: int,
               budgets: Sequence[float]) -> tuple[list[float], dict[str, list[float]]]:
    """The same network and schedule in plain JAX."""
    jax = _need("jax", "jax")
    jnp = jax.numpy
    keys = jax.random.split(jax.random.key(seed), 5)
    params = jax_cnn_init(keys[0])
    train, error, attacked = _jax_steps(alpha, dropout)
    velocity = jax.tree.map(jnp.zeros_like, params)
    x_all, y_all = jnp.asarray(xtr), jnp.asarray(ytr)
    x_test, y_test = jnp.asarray(xte), jnp.asarray(yte)
    order, key = np.random.default_rng(seed), keys[4]
    errors = []
    whole = len(xtr) // 64 * 64  # whole batches: one shape, one compile
    for _ in range(epochs):
        for idx in order.permutation(len(xtr))[:whole].reshape(-1, 64):
            key, sub = jax.random.split(key)
            params, velocity = train(params, velocity, sub, x_all[idx], y_all[idx])
        errors.append(float(error(params, x_test, y_test)))
    if not budgets:
        return errors, {}
    return errors, {name: [float(attacked(params, x_test, y_test, eps, steps))
                           for eps in budgets] for name, steps in ATTACKS.items()}


def run(backend: str, seeds: Sequence[int], epochs: int, noise: Sequence[float],
        alphas: Sequence[float], progress: Callable[[], None],
        budgets: Sequence[float] = EPSILONS) -> dict[str, Any]:
    """Every (noise, method) over ``seeds``: the test-error curves, their
    best and last epochs, the measured share of corrupt labels, and the
    verdict on each of the paper's claims."""
    curve = {"torch": _torch_curve, "jax": _jax_curve}[backend]
    methods = [("erm", 0.0, 0.0), (DROPOUT_ROW, 0.0, DROPOUT)] + [
        (f"mixup α={a:g}", a, 0.0) for a in alphas]
    rows: dict[str, Any] = {}
    for share in noise:
        for seed in seeds:
            xtr, xte, ytr, yte = split(seed)
            noisy, wrong = corrupt(ytr, share, np.random.default_rng(seed + 7))
            for name, alpha, dropout in methods:
                errors, attacks = curve(xtr, noisy, xte, yte, alpha, dropout, seed, epochs,
                                        budgets if share == 0 and not dropout else ())
                row = rows.setdefault(f"{share:g}|{name}", {
                    "noise": share, "method": name, "alpha": alpha, "dropout": dropout,
                    "seeds": [], "corrupt": [], "best": [], "last": [], "curves": [],
                    "attacks": {}})
                for attack, values in attacks.items():
                    row["attacks"].setdefault(attack, []).append(values)
                row["seeds"].append(seed)
                row["corrupt"].append(float(wrong.mean()))
                row["curves"].append(errors)
                row["best"].append(min(errors))
                row["last"].append(errors[-1])
                progress()
    return {"rows": list(rows.values()), "claims": claims(rows, noise, alphas),
            "attack_claims": attack_claims(rows, alphas, budgets) if 0.0 in noise else [],
            "epsilons": list(budgets),
            "published": {str(k): v for k, v in PUBLISHED.items()},
            "published_attacks": PUBLISHED_ATTACKS, "rule": RULE}


def attack_claims(rows: dict[str, Any], alphas: Sequence[float], budgets: Sequence[float]
                  ) -> list[dict[str, Any]]:
    """Per attack and budget: the networks trained on clean labels, MixUp
    (each α) against ERM: a lower error under attack, as the paper found."""
    erm = rows["0|erm"]["attacks"]
    out = []
    for alpha in alphas:
        mix = rows[f"0|mixup α={alpha:g}"]["attacks"]
        for attack in ATTACKS:
            for k, eps in enumerate(budgets):
                e = [seed[k] for seed in erm[attack]]
                m = [seed[k] for seed in mix[attack]]
                diffs = [a - b for a, b in zip(e, m, strict=True)]
                out.append({"attack": attack, "epsilon": eps, "alpha": alpha,
                            "claim": f"MixUp (α = {alpha:g}) has a lower error than ERM under "
                                     f"{attack.upper()}, ε = {eps:g}",
                            "erm": float(np.mean(e)), "mixup": float(np.mean(m)),
                            "diffs": diffs, "verdict": verdict(diffs, +1)})
    return out


def claims(rows: dict[str, Any], noise: Sequence[float], alphas: Sequence[float]
           ) -> list[dict[str, Any]]:
    """Per corrupt share and epoch column: MixUp (the paper's α where run,
    else the largest; every α on clean labels) against ERM, with the verdict."""
    out = []
    for share in noise:
        wanted = PUBLISHED.get(share, {}).get("alpha", max(alphas))
        # clean labels: the paper's generalisation claim, for the CNN
        chosen = alphas if share == 0 else [wanted if wanted in alphas else max(alphas)]
        for alpha in chosen:
            out += _columns(rows, share, alpha)
    return out


def _columns(rows: dict[str, Any], share: float, alpha: float) -> list[dict[str, Any]]:
    """MixUp at ``alpha`` against ERM, and against ERM with dropout, at
    ``share`` corrupt labels, at the best and the last epoch."""
    out = []
    mix = rows[f"{share:g}|mixup α={alpha:g}"]
    for base, label in (("erm", "ERM"), (DROPOUT_ROW, f"ERM with dropout {DROPOUT:g}")):
        erm = rows.get(f"{share:g}|{base}")
        if erm is None:
            continue
        for column in ("best", "last"):
            diffs = [e - m for e, m in zip(erm[column], mix[column], strict=True)]
            out.append({"noise": share, "column": column, "alpha": alpha, "baseline": base,
                        "claim": f"MixUp (α = {alpha:g}) has a lower test error than {label} "
                                 f"at the {column} epoch with {share:.0%} corrupt labels",
                        "erm": float(np.mean(erm[column])),
                        "mixup": float(np.mean(mix[column])),
                        "diffs": diffs, "verdict": verdict(diffs, +1)})
    return out


def table(result: dict[str, Any]) -> str:
    """The rows (mean ± std over seeds, in %) with the paper's beside them,
    then the verdicts."""
    lines = ["| corrupt labels | method | test error, best epoch (%) | last epoch (%) | "
             "paper: best / last (%) |", "|---|---|---|---|---|"]
    for row in result["rows"]:
        best, last = (100 * np.asarray(row[k]) for k in ("best", "last"))
        paper = PUBLISHED.get(row["noise"])
        cited = ""
        if paper is not None and (row["method"] == "erm" or row["alpha"] == paper["alpha"]):
            best_p, last_p = paper["erm" if row["method"] == "erm" else "mixup"]
            cited = f"{best_p} / {last_p}"
        lines.append(f"| {row['noise']:.0%} (measured {np.mean(row['corrupt']):.1%}) | "
                     f"{row['method']} | {best.mean():.1f} ± {best.std():.1f} | "
                     f"{last.mean():.1f} ± {last.std():.1f} | {cited} |")
    attacked = [row for row in result["rows"] if row["attacks"]]
    if attacked:
        eps = result["epsilons"]
        lines += ["", "| trained on clean labels | attack | " + " | ".join(
            f"error at ε = {e:g} (%)" for e in eps) + " | paper (ImageNet, top-1) |",
            "|---|---|" + "---|" * len(eps) + "---|"]
        for row in attacked:
            paper = PUBLISHED_ATTACKS["erm" if row["method"] == "erm" else "mixup"]
            for attack, runs in row["attacks"].items():
                values = 100 * np.asarray(runs)
                cells = " | ".join(f"{m:.1f} ± {d:.1f}" for m, d in
                                   zip(values.mean(axis=0), values.std(axis=0), strict=True))
                lines.append(f"| {row['method']} | {attack.upper()} | {cells} | "
                             f"{paper[attack]} |")
    lines += ["", "| claim | baseline (%) | MixUp (%) | verdict |", "|---|---|---|---|"]
    for c in result["claims"] + result.get("attack_claims", []):
        lines.append(f"| {c['claim']} | {100 * c['erm']:.1f} | {100 * c['mixup']:.1f} | "
                     f"{c['verdict']} |")
    return "\n".join(lines)


def plot_attacks(plt: Any, result: dict[str, Any], path: Any) -> None:
    """Error under each attack against its budget, mean over seeds."""
    attacked = [row for row in result["rows"] if row["attacks"]]
    fig, axes = plt.subplots(1, len(ATTACKS), figsize=(3.6 * len(ATTACKS), 3.0), dpi=80,
                             squeeze=False)
    for ax, attack in zip(axes[0], ATTACKS, strict=True):
        for row in attacked:
            values = 100 * np.asarray(row["attacks"][attack])
            ax.errorbar(result["epsilons"], values.mean(axis=0), yerr=values.std(axis=0),
                        marker="o", capsize=3, label=row["method"])
        ax.set_title(f"{attack.upper()} (white box)", fontsize=9)
        ax.set_xlabel("ε (pixels in [0, 1])")
    axes[0][0].set_ylabel("test error under attack (%)")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot(plt: Any, result: dict[str, Any], path: Any) -> None:
    """Test error per epoch, mean over seeds, one panel per corrupt share."""
    shares = sorted({row["noise"] for row in result["rows"]})
    fig, axes = plt.subplots(1, len(shares), figsize=(3.2 * len(shares), 3.0), dpi=80,
                             squeeze=False)
    for ax, share in zip(axes[0], shares, strict=True):
        for row in (r for r in result["rows"] if r["noise"] == share):
            curves = 100 * np.asarray(row["curves"])
            ax.plot(np.arange(1, curves.shape[1] + 1), curves.mean(axis=0), label=row["method"])
        ax.set_title(f"{share:.0%} corrupt labels", fontsize=9)
        ax.set_xlabel("epoch")
    axes[0][0].set_ylabel("test error (%)")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
