"""New host batches lie on transparent huge pages (see arraymix._pages)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import arraymix
from reference import ref_blend, ref_paste

ROOT = Path(__file__).parent.parent
THP = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def _advised(address: int) -> bool:
    """Whether the mapping holding ``address`` carries MADV_HUGEPAGE ("hg")."""
    mapping = None
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = line.split(maxsplit=1)[0]
        if "-" in head and not head.endswith(":"):
            lo, hi = (int(v, 16) for v in head.split("-"))
            mapping = lo <= address < hi
        elif mapping and head == "VmFlags:":
            return "hg" in line.split()[1:]
    raise AssertionError(f"no mapping holds {address:#x}")


def _needs_madvise_mode() -> None:
    if sys.platform != "linux" or not THP.exists():
        pytest.skip("transparent huge pages are a Linux feature, absent here")
    if "[madvise]" not in THP.read_text():
        pytest.skip(f"the kernel's THP mode is not 'madvise' ({THP.read_text().strip()})")


def _address(backend, a) -> int:
    if backend.name == "numpy":
        return int(a.ctypes.data)
    return int(a.data_ptr())


@pytest.mark.parametrize("kind", ["mixup", "cutmix"])
def test_new_host_batches_ask_for_huge_pages(backend, kind):
    if backend.name not in ("numpy", "torch-cpu"):
        pytest.skip(f"{backend.name} allocates its arrays itself, not on host pages")
    _needs_madvise_mode()
    # 48 MiB, above glibc's largest mmap threshold: the result has a mapping
    # of its own, which no earlier advice covers
    data = np.random.default_rng(0).random((16, 3, 512, 512)).astype(np.float32)
    x = backend.asarray(data)
    if kind == "mixup":  # an int seed gives these parameters in every library
        p = arraymix.sample_mixup(1, 16)
        out, _ = arraymix.mixup(x, rng=1)
        expected = ref_blend(data, p.lam, p.perm)
    else:
        q = arraymix.sample_cutmix(1, 16, (512, 512))
        out, _ = arraymix.cutmix(x, rng=1)
        expected = ref_paste(data, q.perm, q.lower, q.upper, (2, 3))
    np.testing.assert_allclose(backend.numpy(out), expected, rtol=0, atol=1e-6)
    # the first whole huge page of the result
    assert _advised(-(-_address(backend, out) // (1 << 21)) * (1 << 21) + 1)


@pytest.mark.parametrize(("switch", "expected"), [("1", "True"), ("0", "False")])
def test_the_switch_turns_the_advice_off(switch, expected):
    pytest.importorskip("torch", reason="torch is not installed")
    _needs_madvise_mode()
    # a new process (the switch is read once per process); 48 MiB, above
    # glibc's largest mmap threshold, so the batch has a mapping of its own
    code = (
        "import sys, torch, arraymix; sys.path.insert(0, 'tests');"
        "from test_pages import _advised;"
        "out, _ = arraymix.mixup(torch.rand(16, 3, 512, 512), rng=0);"
        "print(_advised(out.data_ptr() + (1 << 22)))"
    )
    env = dict(os.environ, ARRAYMIX_HUGE_PAGES=switch)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [expected]
