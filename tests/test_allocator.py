"""glibc's malloc tunables for the optimizer's large temporaries (optimizer/allocator.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

CODE = "from optimizer.allocator import keep_large_blocks as k; print(k(), k())"


def _run(env: dict[str, str]) -> str:
    res = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True,
                         cwd=ROOT, env=env, timeout=60)  # fmt: skip
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc tunables")
def test_set_once_per_process():
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    assert _run(env) == "True False"  # set by the first call, left alone by the second


def test_the_users_own_setting_wins():
    import os

    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
    assert _run(env) == "False False"
