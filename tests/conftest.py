import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared real data sets: $RNNLAB_DATA, else ../shared/data beside the repository."""
    path = Path(os.environ.get("RNNLAB_DATA", REPO.parent / "shared" / "data"))
    if not path.is_dir():
        pytest.skip(f"shared data not found at {path} (set RNNLAB_DATA)")
    return path
