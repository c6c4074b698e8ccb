"""The built artefacts, checked as a user receives them: `python -m build`
makes the sdist and the wheel (the wheel from the sdist), `twine check`
reads their metadata, their file lists hold the license, `py.typed` and
every module (and no tests or benchmarks), and the wheel installed into a
fresh virtual environment with NumPy and array-api-compat alone imports,
passes the public doctests and mixes a batch as the reference does."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import arraymix

ROOT = Path(__file__).resolve().parents[1]
VERSION = arraymix.__version__
MODULES = sorted(
    p.relative_to(ROOT / "src").as_posix()
    for p in (ROOT / "src" / "arraymix").rglob("*")
    if p.suffix == ".py" or p.name == "py.typed"
)


def _run(*cmd, cwd, timeout=900):
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                          timeout=timeout, check=False, cwd=cwd)
    assert done.returncode == 0, (" ".join(map(str, cmd)) + "\n" + done.stdout[-3000:]
                                  + done.stderr[-3000:])
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    for tool in ("build", "twine"):
        if importlib.util.find_spec(tool) is None:
            pytest.skip(f"{tool} is not installed (the test extras bring it)")
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "build", "--outdir", out, ROOT, cwd=ROOT)
    wheels = list(out.glob("*.whl"))
    sdists = list(out.glob("*.tar.gz"))
    assert [w.name for w in wheels] == [f"arraymix-{VERSION}-py3-none-any.whl"]
    assert [s.name for s in sdists] == [f"arraymix-{VERSION}.tar.gz"]
    return wheels[0], sdists[0]


def test_metadata_passes_twine_check(dist):
    _run(sys.executable, "-m", "twine", "check", "--strict", *dist, cwd=ROOT)


def test_wheel_holds_the_package_and_its_license(dist):
    wheel, _ = dist
    info = f"arraymix-{VERSION}.dist-info"
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        metadata = z.read(f"{info}/METADATA").decode()
        entry_points = z.read(f"{info}/entry_points.txt").decode()
    assert sorted(n for n in names if n.startswith("arraymix/")) == MODULES
    assert f"{info}/licenses/LICENSE" in names
    assert [n for n in names if not n.startswith(("arraymix/", info + "/"))] == []
    assert "License-Expression: BSD-3-Clause" in metadata
    assert "License-File: LICENSE" in metadata
    assert f"Version: {VERSION}" in metadata
    assert "Author: the arraymix developers" in metadata
    assert "arraymix = arraymix.cli:main" in entry_points


def test_sdist_holds_the_sources_and_its_license(dist):
    _, sdist = dist
    top = f"arraymix-{VERSION}"
    with tarfile.open(sdist) as tar:
        names = set(tar.getnames())
    for wanted in ("LICENSE", "README.md", "pyproject.toml"):
        assert f"{top}/{wanted}" in names
    missing = [m for m in MODULES if f"{top}/src/{m}" not in names]
    assert missing == []
    assert not any(n.startswith(f"{top}/bench/") for n in names)


def test_wheel_installs_and_works_alone(dist, tmp_path):
    """NumPy and array-api-compat only: no torch, no jax, no source tree."""
    wheel, _ = dist
    env = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", env, cwd=tmp_path)
    python = env / "bin" / "python"
    _run(python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel,
         cwd=tmp_path)
    smoke = ROOT / "tests" / "scripts" / "wheel_smoke.py"
    out = _run(python, "-I", smoke, cwd=tmp_path)  # -I: neither cwd nor PYTHONPATH on the path
    assert out.split()[0] == "ok"
    assert int(out.split()[1]) > 0
    assert "usage" in _run(env / "bin" / "arraymix", "--help", cwd=tmp_path).lower()
