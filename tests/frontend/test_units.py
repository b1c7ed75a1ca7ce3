"""The dashboard's pure helpers (escaping templates, CID links, amounts) under vitest."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from zkpot.config import PROJECT_ROOT

FRONTEND = PROJECT_ROOT / "frontend"


@pytest.mark.skipif(not (FRONTEND / "node_modules" / ".bin" / "vitest").exists() or not shutil.which("npm"),
                    reason="tools/bootstrap.sh installs the frontend's npm packages")
def test_vitest_unit_tests_pass():
    done = subprocess.run(["npm", "run", "--prefix", str(FRONTEND), "test", "--silent"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
