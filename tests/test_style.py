import shutil
import subprocess

import pytest

from .conftest import REPO


def test_ruff_check_is_clean():
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff not installed (it comes with the 'test' extra)")
    result = subprocess.run([ruff, "check", "src", "tests", "benchmarks", "examples"], cwd=REPO,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
