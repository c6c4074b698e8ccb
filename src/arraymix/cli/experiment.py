"""``arraymix experiment``: what mixing buys on scikit-learn's bundled digits.

Two studies. Generalisation: plain training (one-hot targets), MixUp,
CutMix, the Mixer and each method of the mixing family train the same
network (an MLP, and a small CNN) with the same split, epochs and
optimiser, over several seeds and a few α; the test set gives accuracy,
negative log-likelihood and expected calibration error (15 bins).
Label noise (:mod:`.noise`): the CNN with a share of its training labels
corrupted, ERM (with and without dropout) against MixUp, each claim of the
paper with a verdict. Whatever the numbers say is reported.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import _need, _out_dir, noise

METHODS = ("erm", "mixup", "cutmix", "mixer", "patchmix", "fmix", "mosaic", "resizemix")
#: The methods trained at every α of the sweep; the family's run at their default.
SWEPT = ("mixup", "cutmix", "mixer")
#: Each method's α in the table (0: the method has none).
DEFAULT_ALPHA = {"mixup": 0.2, "cutmix": 1.0, "mixer": 0.8, "patchmix": 1.0, "fmix": 1.0,
                 "mosaic": 0.0, "resizemix": 0.0}
#: Patch-grid cells of 2x2 pixels on the 8x8 digits.
PATCH = 2
BINS = 15
#: The networks of the generalisation study, and the SGD step of each.
MODELS = {"mlp": "MLP 64-256-10 (ReLU)", "cnn": noise.MODEL}
LR = {"mlp": 0.05, "cnn": 0.02}
EPOCHS = {"mlp": 60, "cnn": 30}
#: What each model's files are called after ``results``, ``reliability``...
SUFFIX = {"mlp": "", "cnn": "-cnn"}


def _mixer(method: str, alpha: float, seed: int) -> Any:
    import arraymix

    common: dict[str, Any] = {"num_classes": 10, "label_smoothing": 0.0,
                              "cutmix_axes": (-2, -1), "seed": seed}
    if method == "erm":
        return arraymix.Mixer(mixup_alpha=0.0, cutmix_alpha=0.0, prob=0.0, **common)
    if method == "mixup":
        return arraymix.Mixer(mixup_alpha=alpha, cutmix_alpha=0.0, **common)
    if method == "cutmix":
        return arraymix.Mixer(mixup_alpha=0.0, cutmix_alpha=alpha, **common)
    if method == "mixer":
        return arraymix.Mixer(mixup_alpha=alpha, cutmix_alpha=1.0, switch_prob=0.5, **common)
    return arraymix.Mixer(methods={method: 1.0}, patch=PATCH, patchmix_alpha=alpha or 1.0,
                          fmix_alpha=alpha or 1.0, **common)


def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    datasets = _need("sklearn.datasets", "experiment")
    selection = _need("sklearn.model_selection", "experiment")
    digits = datasets.load_digits()
    images = (digits.images / 16.0).astype(np.float32)  # (1797, 8, 8) in [0, 1]
    split: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] = tuple(
        selection.train_test_split(images, digits.target.astype(np.int64), test_size=600,
                                   random_state=0, stratify=digits.target))
    return split


def metrics(probs: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Accuracy, NLL and 15-bin expected calibration error of predictions."""
    conf = probs.max(axis=1)
    pred = probs.argmax(axis=1)
    correct = pred == labels
    nll = float(-np.mean(np.log(np.clip(probs[np.arange(labels.size), labels], 1e-12, 1))))
    edges = np.linspace(0, 1, BINS + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, BINS - 1)
    ece, acc_bins, conf_bins, counts = 0.0, [], [], []
    for b in range(BINS):
        sel = which == b
        n = int(sel.sum())
        counts.append(n)
        acc_bins.append(float(correct[sel].mean()) if n else math.nan)
        conf_bins.append(float(conf[sel].mean()) if n else math.nan)
        if n:
            ece += n / labels.size * abs(acc_bins[-1] - conf_bins[-1])
    return {"accuracy": float(correct.mean()), "nll": nll, "ece": ece,
            "bins": {"accuracy": acc_bins, "confidence": conf_bins, "count": counts}}


def _images(data: tuple[np.ndarray, ...], model: str) -> tuple[np.ndarray, ...]:
    """The split as ``model`` reads it: (N, 8, 8) for the MLP, (N, 1, 8, 8)
    for the CNN."""
    xtr, xte, ytr, yte = data
    return (xtr[:, None], xte[:, None], ytr, yte) if model == "cnn" else data


def _train_torch(method: str, alpha: float, seed: int, epochs: int,
                 data: tuple[np.ndarray, ...], model_name: str = "mlp") -> np.ndarray:
    torch = _need("torch", "torch")
    xtr, xte, ytr, _ = _images(data, model_name)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(seed)
    if model_name == "cnn":
        model = noise.torch_cnn().to(dev)
    else:
        model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 256),
                                    torch.nn.ReLU(), torch.nn.Linear(256, 10)).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=LR[model_name], momentum=0.9,
                          weight_decay=5e-4)
    mixer = _mixer(method, alpha, seed)
    x_all, y_all = torch.asarray(xtr, device=dev), torch.asarray(ytr, device=dev)
    order = np.random.default_rng(seed)
    for _ in range(epochs):
        idx = torch.asarray(order.permutation(len(xtr)), device=dev)
        for start in range(0, len(xtr), 64):
            batch = idx[start:start + 64]
            x, y = mixer(x_all[batch], y_all[batch])
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        probs: np.ndarray = torch.softmax(model(torch.asarray(xte, device=dev)), -1).cpu().numpy()
    return probs


def _mlp(x: Any, p: Any) -> Any:
    """The MLP of the JAX runs."""
    import jax

    h = jax.nn.relu(x.reshape(x.shape[0], -1) @ p["w1"] + p["b1"])
    return h @ p["w2"] + p["b2"]


def _forward(model: str) -> Any:
    """The JAX network's logits: ``forward(params, x)``."""
    return noise.jax_cnn if model == "cnn" else lambda p, x: _mlp(x, p)


@functools.cache
def _jax_update(method: str, alpha: float, model: str = "mlp") -> Any:
    """The jitted training step of one method, made once (not per seed)."""
    jax = _need("jax", "jax")
    jnp = jax.numpy
    forward, lr = _forward(model), LR[model]

    def loss(p: Any, x: Any, y: Any) -> Any:
        return -jnp.mean(jnp.sum(y * jax.nn.log_softmax(forward(p, x)), axis=-1))

    def update(p: Any, v: Any, key: Any, x: Any, ids: Any) -> Any:
        x, y = _mix_jax(method, alpha, key, x, ids)
        g = jax.grad(loss)(p, x, y)
        v = jax.tree.map(lambda v_, g_, p_: 0.9 * v_ + g_ + 5e-4 * p_, v, g, p)
        return jax.tree.map(lambda p_, v_: p_ - lr * v_, p, v), v

    return jax.jit(update)


def _train_jax(method: str, alpha: float, seed: int, epochs: int,
               data: tuple[np.ndarray, ...], model: str = "mlp") -> np.ndarray:
    jax = _need("jax", "jax")
    jnp = jax.numpy
    xtr, xte, ytr, _ = _images(data, model)
    k1, k2 = jax.random.split(jax.random.key(seed))
    if model == "cnn":
        params = noise.jax_cnn_init(k1)
    else:
        params = {"w1": jax.random.normal(k1, (64, 256)) / 8.0, "b1": jnp.zeros(256),
                  "w2": jax.random.normal(k2, (256, 10)) / 16.0, "b2": jnp.zeros(10)}
    step = _jax_update(method, alpha, model)
    velocity = jax.tree.map(jnp.zeros_like, params)
    x_all, y_all = jnp.asarray(xtr), jnp.asarray(ytr)
    order, key = np.random.default_rng(seed), jax.random.key(seed + 1)
    for _ in range(epochs):
        idx = order.permutation(len(xtr))
        for start in range(0, len(xtr) - 63, 64):  # whole batches: one shape, one compile
            batch = jnp.asarray(idx[start:start + 64])
            key, sub = jax.random.split(key)
            params, velocity = step(params, velocity, sub, x_all[batch], y_all[batch])
    return np.asarray(jax.nn.softmax(_forward(model)(params, jnp.asarray(xte)), axis=-1))


def _mix_jax(method: str, alpha: float, key: Any, x: Any, ids: Any) -> Any:
    """Inside the jitted step: the batch mixed as the method's Mixer mixes it
    (the Mixer itself draws on the host), from a key."""
    import jax
    import jax.numpy as jnp

    import arraymix

    common: dict[str, Any] = {"num_classes": 10, "lam_mode": "batch"}
    if method == "erm":
        return x, arraymix.one_hot(ids, 10)
    if method == "mixup":
        return arraymix.mixup(x, ids, alpha=alpha, rng=key, **common)
    if method == "cutmix":
        return arraymix.cutmix(x, ids, alpha=alpha, rng=key, **common)
    if method == "patchmix":
        return arraymix.patchmix(x, ids, patch=PATCH, alpha=alpha, rng=key, **common)
    if method == "fmix":
        return arraymix.fmix(x, ids, alpha=alpha, rng=key, **common)
    if method == "mosaic":
        return arraymix.mosaic(x, ids, rng=key, **common)
    if method == "resizemix":
        return arraymix.resizemix(x, ids, rng=key, **common)
    k_switch, k_mix, k_cut = jax.random.split(key, 3)  # the Mixer: either, half the time
    xm, ym = arraymix.mixup(x, ids, alpha=alpha, rng=k_mix, **common)
    xc, yc = arraymix.cutmix(x, ids, alpha=1.0, rng=k_cut, **common)
    cut = jax.random.bernoulli(k_switch, 0.5)
    assert ym is not None
    assert yc is not None
    return jnp.where(cut, xc, xm), jnp.where(cut, yc, ym)


def _summary(values: list[float]) -> dict[str, float]:
    return {"mean": float(np.mean(values)), "std": float(np.std(values))}


def run(args: argparse.Namespace) -> int:
    """Train every method over seeds and α; write results.json, a table and plots."""
    out = _out_dir(args.out)
    tqdm = _need("tqdm", "experiment").tqdm
    matplotlib = _need("matplotlib", "experiment")
    matplotlib.use("Agg")
    plt = importlib.import_module("matplotlib.pyplot")
    train = {"torch": _train_torch, "jax": _train_jax}[args.backend]
    _need(args.backend, args.backend)
    count = args.seeds if args.seeds is not None else (2 if args.quick else 5)
    seeds = range(args.seed, args.seed + count)
    epochs = {m: args.epochs or (EPOCHS[m] // 4 if args.quick else EPOCHS[m]) for m in MODELS}
    alphas = (0.2, 1.0) if args.quick else (0.1, 0.2, 0.4, 1.0)
    studies = set(args.studies)
    # the label-noise study: its own network and schedule
    noisy_seeds = range(args.seed, args.seed + (args.seeds or (1 if args.quick else 3)))
    noisy_epochs = args.epochs or (8 if args.quick else 40)
    shares = (0.0, 0.5) if args.quick else noise.NOISE
    noisy_alphas = (8.0,) if args.quick else noise.ALPHAS
    noisy_runs = len(shares) * len(noisy_seeds) * (2 + len(noisy_alphas))  # ERM, dropout
    data = _data()
    runs = [("erm", 0.0)] + [(m, a) for m in SWEPT for a in alphas]
    for m in METHODS[1:]:
        if (m, DEFAULT_ALPHA[m]) not in runs:
            runs.append((m, DEFAULT_ALPHA[m]))
    models = args.models or (("mlp",) if args.quick else tuple(MODELS))
    started = time.perf_counter()
    total = (len(runs) * count * len(models) if "generalisation" in studies else 0) + (
        noisy_runs if "noise" in studies else 0)
    written: list[Path] = []
    raw: dict[str, dict[tuple[str, float], list[dict[str, Any]]]] = {}
    with tqdm(total=total, desc=f"training ({args.backend})", unit="run") as bar:
        if "noise" in studies:
            found = noise.run(args.backend, noisy_seeds, noisy_epochs, shares, noisy_alphas,
                              bar.update, (0.1,) if args.quick else noise.EPSILONS)
            found["config"] = {"backend": args.backend, "seeds": list(noisy_seeds),
                               "epochs": noisy_epochs, "noise": list(shares),
                               "alphas": list(noisy_alphas), "dropout": noise.DROPOUT,
                               "model": noise.MODEL, "data": noise.DATA,
                               "optimizer": noise.OPTIMIZER}
            (out / "noise.json").write_text(json.dumps(found, indent=1))
            (out / "noise.md").write_text(noise.table(found) + "\n")
            noise.plot(plt, found, out / "noise.png")
            written += [out / "noise.json", out / "noise.md", out / "noise.png"]
            if found["attack_claims"]:
                noise.plot_attacks(plt, found, out / "attacks.png")
                written.append(out / "attacks.png")
        if "generalisation" in studies:
            for model in models:
                mine = raw.setdefault(model, {})
                for method, alpha in runs:
                    for seed in seeds:
                        probs = train(method, alpha, seed, epochs[model], data, model)
                        mine.setdefault((method, alpha), []).append(metrics(probs, data[3]))
                        bar.update()
    if "noise" in studies:
        print(noise.table(found))
    for model, mine in raw.items():
        results = _results(mine)
        results["config"] = {"backend": args.backend, "seeds": count, "first_seed": args.seed,
                             "epochs": epochs[model], "alphas": list(alphas),
                             "default_alpha": DEFAULT_ALPHA, "model": MODELS[model],
                             "optimizer": f"SGD lr {LR[model]:g} momentum 0.9 weight decay "
                                          "5e-4, batch 64",
                             "data": "sklearn digits, 1197 train / 600 test (stratified, "
                                     "seed 0)",
                             "label_smoothing": 0.0, "ece_bins": BINS,
                             "seconds": round(time.perf_counter() - started, 1)}
        results["claims"] = _claims(results)
        results["rule"] = noise.RULE
        tag = SUFFIX[model]
        (out / f"results{tag}.json").write_text(json.dumps(results, indent=1))
        table = _table(results)
        (out / f"results{tag}.md").write_text(table + "\n")
        _plots(plt, mine, results, alphas, out, tag, model)
        print(f"{model}:\n{table}")
        written += [out / f"results{tag}.json", out / f"results{tag}.md",
                    out / f"reliability{tag}.png", out / f"accuracy_vs_alpha{tag}.png"]
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def _results(raw: dict[tuple[str, float], list[dict[str, Any]]]) -> dict[str, Any]:
    """Mean and std over seeds per method (at its default α) and per α."""
    results: dict[str, Any] = {}
    for method in METHODS:
        alpha = 0.0 if method == "erm" else DEFAULT_ALPHA[method]
        runs_m = raw[(method, alpha)]
        results[method] = {k: _summary([r[k] for r in runs_m]) for k in ("accuracy", "nll",
                                                                         "ece")}
        results[method]["alpha"] = alpha
        results[method]["per_seed"] = {k: [r[k] for r in runs_m] for k in ("accuracy", "ece")}
        if method != "erm":
            results[method]["by_alpha"] = {
                str(a): {k: _summary([r[k] for r in raw[(method, a)]])
                         for k in ("accuracy", "nll", "ece")}
                for a in sorted({a for m, a in raw if m == method})}
    return results


def _claims(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each mixing method against ERM, paired by seed, with a verdict on
    the published claims: better accuracy (Zhang et al. 2018 and the papers
    of each method) and better calibration, a lower ECE (Thulasidasan et
    al., NeurIPS 2019; later work reports under-confidence instead)."""
    erm = results["erm"]["per_seed"]
    out = []
    for method in METHODS[1:]:
        mine = results[method]["per_seed"]
        for metric, better, claim in (
                ("accuracy", +1, "a higher test accuracy than ERM"),
                ("ece", -1, "a lower calibration error (ECE) than ERM")):
            diffs = [m - e for m, e in zip(mine[metric], erm[metric], strict=True)]
            out.append({"method": method, "metric": metric, "claim": f"{method} has {claim}",
                        "diffs": diffs, "verdict": noise.verdict(diffs, better)})
    return out


def _table(results: dict[str, Any]) -> str:
    lines = ["| method | α | accuracy | NLL | ECE (15 bins) |", "|---|---|---|---|---|"]
    for method in METHODS:
        r = results[method]
        cells = [f"{r[k]['mean']:.4f} ± {r[k]['std']:.4f}" for k in ("accuracy", "nll", "ece")]
        lines.append(f"| {method} | {r['alpha'] or '—'} | " + " | ".join(cells) + " |")
    lines += ["", "| claim | mean difference (method − ERM) | verdict |", "|---|---|---|"]
    for c in results.get("claims", []):
        lines.append(f"| {c['claim']} | {np.mean(c['diffs']):+.4f} | {c['verdict']} |")
    return "\n".join(lines)


def _plots(plt: Any, raw: dict[tuple[str, float], list[dict[str, Any]]],
           results: dict[str, Any], alphas: tuple[float, ...], out: Path, tag: str,
           model: str) -> None:
    fig, grid = plt.subplots(2, len(METHODS) // 2, figsize=(1.6 * len(METHODS), 6.4), dpi=80)
    axes = grid.ravel()
    centres = (np.arange(BINS) + 0.5) / BINS
    for ax, method in zip(axes, METHODS, strict=True):
        runs = raw[(method, results[method]["alpha"])]
        counts = np.sum([r["bins"]["count"] for r in runs], axis=0)
        acc = np.nansum([np.nan_to_num(r["bins"]["accuracy"]) * np.asarray(r["bins"]["count"])
                         for r in runs], axis=0) / np.maximum(counts, 1)
        ax.bar(centres, np.where(counts > 0, acc, 0), width=1 / BINS, edgecolor="black",
               linewidth=0.5, label="accuracy")
        ax.plot([0, 1], [0, 1], "r--", linewidth=1, label="calibrated")
        ax.set_title(f"{method}: ECE {results[method]['ece']['mean']:.3f}", fontsize=9)
        ax.set_xlabel("confidence")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
    for row in grid:
        row[0].set_ylabel("accuracy")
    axes[0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(out / f"reliability{tag}.png")
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=80)
    erm = results["erm"]["accuracy"]
    ax.axhline(erm["mean"], color="gray", linestyle="--", label="erm (no mixing)")
    for method in SWEPT:
        xs = sorted({a for m, a in raw if m == method})
        acc = [[r["accuracy"] for r in raw[(method, a)]] for a in xs]
        ax.errorbar(xs, [np.mean(a) for a in acc], yerr=[np.std(a) for a in acc], marker="o",
                    capsize=3, label=method)
    ax.set_xscale("log")
    ax.set_xlabel("α (Mixer: MixUp α, CutMix α = 1)")
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=8)
    ax.set_title(f"digits, {model.upper()}: accuracy vs α (mean ± std over seeds)", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / f"accuracy_vs_alpha{tag}.png")
    plt.close(fig)
