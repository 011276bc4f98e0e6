"""Shared fixtures: where the real performances live, and a skip when they are not beside the checkout."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

# The models in these tests are tiny: one thread is several times faster than two threads that
# contend for a 2-core machine (and the results do not depend on it).
torch.set_num_threads(1)

SHARED_ASAP = Path(__file__).parents[1].parent / "shared" / "data" / "asap"
MISSING_SHARED = "../shared/data/asap not found: real-file tests need the shared data beside the checkout"


def asap_rows() -> list[dict]:
    """Rows of ../shared/data/asap/metadata.csv, or [] when the folder is absent."""
    table = SHARED_ASAP / "metadata.csv"
    if not table.is_file():
        return []
    with table.open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The ASAP folder of real performances; skips the test when it is not there."""
    if not (SHARED_ASAP / "metadata.csv").is_file():
        pytest.skip(MISSING_SHARED)
    return SHARED_ASAP
