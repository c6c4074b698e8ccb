"""The command line end to end: figures, results, and one-line errors."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest

from arraymix.cli import main


def _png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _installed(backend: str) -> None:
    if backend != "numpy" and importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_demo_writes_the_figures(backend, tmp_path, capsys):
    _installed(backend)
    pytest.importorskip("skimage", reason="scikit-image is not installed")
    assert main(["demo", "--out", str(tmp_path), "--backend", backend, "--size", "48"]) == 0
    printed = capsys.readouterr().out
    for name in ("originals", "mixup", "cutmix", "detection", "segmentation", "mixer",
                 "family"):
        path = tmp_path / f"{name}.png"
        assert f"wrote {path}" in printed
        width, height = _png_size(path)
        assert (width, height) == (691, 432)  # 4 x 2 tiles at 72 dpi


def test_demo_default_backend_in_a_fresh_process(tmp_path):
    """As the README's first command runs it: no --backend, a new interpreter."""
    pytest.importorskip("skimage", reason="scikit-image is not installed")
    done = subprocess.run([sys.executable, "-m", "arraymix", "demo", "--out", str(tmp_path),
                           "--size", "32"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "cutmix.png", "detection.png", "family.png", "mixer.png", "mixup.png",
        "originals.png", "segmentation.png"]


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_experiment_quick(tmp_path, backend):
    pytest.importorskip("sklearn", reason="scikit-learn is not installed")
    pytest.importorskip(backend, reason=f"{backend} is not installed")
    from arraymix.cli.noise import verdict

    args = ["experiment", "--quick", "--seeds", "2", "--epochs", "2", "--backend", backend,
            "--studies", "generalisation", "--models", "mlp", "cnn", "--out", str(tmp_path)]
    assert main(args) == 0
    for tag, model in (("", "MLP"), ("-cnn", "CNN")):
        results = json.loads((tmp_path / f"results{tag}.json").read_text())
        assert results["config"]["model"].startswith(model)
        for method in ("erm", "mixup", "cutmix", "mixer", "patchmix", "fmix", "mosaic",
                       "resizemix"):
            for metric in ("accuracy", "nll", "ece"):
                value = results[method][metric]
                assert set(value) == {"mean", "std"}
                assert np.isfinite(value["mean"])
                assert value["std"] >= 0
            assert 0.1 < results[method]["accuracy"]["mean"] <= 1  # 10 classes: chance 0.1
            assert 0 <= results[method]["ece"]["mean"] <= 1
            assert results[method]["nll"]["mean"] > 0
            for metric in ("accuracy", "ece"):  # the summary is of the per-seed rows
                per_seed = results[method]["per_seed"][metric]
                assert len(per_seed) == 2
                assert results[method][metric]["mean"] == pytest.approx(np.mean(per_seed))
        assert results["config"]["epochs"] == 2
        assert {c["method"] for c in results["claims"]} == {
            "mixup", "cutmix", "mixer", "patchmix", "fmix", "mosaic", "resizemix"}
        for claim in results["claims"]:  # each verdict follows from the per-seed rows
            mine = results[claim["method"]]["per_seed"][claim["metric"]]
            erm = results["erm"]["per_seed"][claim["metric"]]
            assert claim["diffs"] == pytest.approx(
                [m - e for m, e in zip(mine, erm, strict=True)])
            sign = +1 if claim["metric"] == "accuracy" else -1
            assert claim["verdict"] == verdict(claim["diffs"], sign)
        assert "| mixup |" in (tmp_path / f"results{tag}.md").read_text()
        for name in ("reliability", "accuracy_vs_alpha"):
            assert min(_png_size(tmp_path / f"{name}{tag}.png")) > 100
    mlp = json.loads((tmp_path / "results.json").read_text())
    cnn = json.loads((tmp_path / "results-cnn.json").read_text())
    assert mlp["erm"]["per_seed"] != cnn["erm"]["per_seed"]  # two networks were trained


def test_metrics_against_hand_computed_values():
    from arraymix.cli.experiment import metrics

    probs = np.asarray([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.2, 0.8]])
    labels = np.asarray([0, 1, 1, 1])
    m = metrics(probs, labels)
    assert m["accuracy"] == 0.75
    nll = -np.mean(np.log([0.9, 0.4, 0.7, 0.8]))
    assert np.isclose(m["nll"], nll)
    # bins of width 1/15: 0.6 -> bin 8 (acc 0), 0.7 -> bin 10 (acc 1), 0.8 -> bin 11, 0.9 -> 13
    ece = (abs(0 - 0.6) + abs(1 - 0.7) + abs(1 - 0.8) + abs(1 - 0.9)) / 4
    assert np.isclose(m["ece"], ece)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["demo", "--backend", "cupy"], "invalid choice: 'cupy'"),
        (["demo", "--out", "/proc/no/such/dir"], "cannot write to --out"),
        (["experiment", "--backend", "numpy"], "invalid choice: 'numpy'"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["demo", "--size", "0"], "--size: must be at least 1, got 0"),
        (["demo", "--size", "big"], "--size: expected an integer, got 'big'"),
        (["demo", "--seed", "-1"], "--seed: must be at least 0, got -1"),
        # 0 is refused, not taken for "the default"
        (["experiment", "--seeds", "0"], "--seeds: must be at least 1, got 0"),
        (["experiment", "--epochs", "0"], "--epochs: must be at least 1, got 0"),
    ],
)
def test_errors_are_one_line_with_status_2(args, message):
    if "--out" in args:  # checked once the demo's own imports are found
        pytest.importorskip("matplotlib", reason="matplotlib is not installed (arraymix[demo])")
        pytest.importorskip("skimage", reason="scikit-image is not installed (arraymix[demo])")
    done = subprocess.run([sys.executable, "-m", "arraymix", *args], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("arraymix: error:")
    assert message in lines[0]


def test_missing_optional_dependency_names_the_extra(tmp_path):
    code = (
        "import sys\n"
        "sys.modules['matplotlib'] = None\n"  # as if it were not installed
        "from arraymix.cli import main\n"
        f"sys.exit(main(['demo', '--backend', 'numpy', '--out', {str(tmp_path)!r}]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 2
    assert done.stderr.strip() == ("arraymix: error: matplotlib is not installed; install it "
                                   "with: pip install \"arraymix[demo]\"")


def test_corrupt_replaces_the_share_asked_by_other_classes():
    from arraymix.cli.noise import corrupt

    labels = np.random.default_rng(0).integers(0, 10, size=1000)
    for share in (0.0, 0.2, 0.5, 0.8):
        noisy, wrong = corrupt(labels, share, np.random.default_rng(1))
        assert wrong.sum() == round(share * 1000)
        np.testing.assert_array_equal(noisy != labels, wrong)  # every chosen label changed
        assert noisy.min() >= 0
        assert noisy.max() <= 9
    # the new classes are spread over the other nine
    noisy, wrong = corrupt(np.zeros(9000, dtype=np.int64), 1.0, np.random.default_rng(2))
    counts = np.bincount(noisy, minlength=10)
    assert counts[0] == 0
    assert counts[1:].min() > 850


@pytest.mark.parametrize(
    ("diffs", "expected"),
    [([0.10, 0.12, 0.11], "reproduced"), ([-0.10, -0.12, -0.11], "contradicted"),
     ([0.10, -0.09, 0.02], "inconclusive"), ([0.3], "inconclusive"),
     ([0.0, 0.0, 0.0], "inconclusive")],
)
def test_verdict_rule(diffs, expected):
    from arraymix.cli.noise import verdict

    assert verdict(diffs, +1) == expected
    flipped = {"reproduced": "contradicted", "contradicted": "reproduced"}.get(expected,
                                                                              expected)
    assert verdict(diffs, -1) == flipped


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_noise_study_quick(tmp_path, backend):
    """The quick label-noise study: rows from noisy labels, verdicts that follow
    from the rows by the stated rule, the files written."""
    pytest.importorskip("sklearn", reason="scikit-learn is not installed")
    pytest.importorskip(backend, reason=f"{backend} is not installed")
    from arraymix.cli.noise import verdict

    seeds = 2 if backend == "torch" else 1  # JAX compiles every step and attack: slow here
    args = ["experiment", "--quick", "--studies", "noise", "--seeds", str(seeds), "--epochs",
            "2", "--backend", backend, "--seed", "3", "--out", str(tmp_path)]
    assert main(args) == 0
    found = json.loads((tmp_path / "noise.json").read_text())
    assert found["config"]["seeds"] == list(range(3, 3 + seeds))
    for row in found["rows"]:
        assert row["corrupt"] == [pytest.approx(row["noise"], abs=1e-3)] * seeds
        assert len(row["curves"]) == seeds
        assert all(len(c) == 2 for c in row["curves"])
        assert row["best"] == [min(c) for c in row["curves"]]
        assert row["last"] == [c[-1] for c in row["curves"]]
    rows = {(r["noise"], r["method"]): r for r in found["rows"]}
    assert {r["method"] for r in found["rows"]} == {"erm", "erm + dropout 0.5", "mixup α=8"}
    assert {c["baseline"] for c in found["claims"]} == {"erm", "erm + dropout 0.5"}
    for claim in found["claims"]:
        erm = rows[(claim["noise"], claim["baseline"])][claim["column"]]
        mix = rows[(claim["noise"], f"mixup α={claim['alpha']:g}")][claim["column"]]
        assert claim["diffs"] == pytest.approx([e - m for e, m in zip(erm, mix, strict=True)])
        assert claim["verdict"] == verdict(claim["diffs"], +1)
    clean = {r["method"]: r["attacks"] for r in found["rows"] if r["noise"] == 0}
    assert set(clean["erm"]) == {"fgsm", "i-fgsm"}
    for claim in found["attack_claims"]:
        k = found["epsilons"].index(claim["epsilon"])
        erm = [seed[k] for seed in clean["erm"][claim["attack"]]]
        mix = [seed[k] for seed in clean[f"mixup α={claim['alpha']:g}"][claim["attack"]]]
        assert claim["diffs"] == pytest.approx([e - m for e, m in zip(erm, mix, strict=True)])
        assert claim["verdict"] == verdict(claim["diffs"], +1)
    assert "| claim |" in (tmp_path / "noise.md").read_text()
    assert min(_png_size(tmp_path / "noise.png")) > 100
    assert min(_png_size(tmp_path / "attacks.png")) > 100
    assert not (tmp_path / "results.json").exists()  # the other study was not asked for
