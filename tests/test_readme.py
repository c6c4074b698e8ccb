"""Every Python block of the README runs, and the set-up commands match .ci/run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from markdown_blocks import python_blocks, run_block

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCKS = python_blocks(ROOT / "README.md")


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_block_runs(code):
    run_block(code, "README.md")


def test_readme_has_blocks():
    assert len(BLOCKS) >= 5


def test_ci_runs_the_readme_test_command():
    commands = re.findall(r"```bash\n# 2\. .*?\n(.*?)\n```", README, flags=re.S)
    assert len(commands) == 1
    assert commands[0].strip() in (ROOT / ".ci" / "run").read_text()


def test_readme_main_command_runs_the_demo():
    commands = re.findall(r"```bash\n# 1\. .*?\n(.*?)\n```", README, flags=re.S)
    assert len(commands) == 1
    assert "arraymix demo" in commands[0]
    assert '".[demo,experiment]"' in commands[0]


def test_quickstart_runs(capsys):
    import runpy

    runpy.run_path(str(ROOT / "examples" / "quickstart.py"), run_name="__main__")
    assert "numpy mixup" in capsys.readouterr().out
