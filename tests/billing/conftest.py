import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crowded import fill_crowded  # noqa: E402


@pytest.fixture(scope="package")
async def crowded(owner, services):
    """Thousands of billing documents, shared by the index and receivables tests."""
    return await fill_crowded(owner, services)
