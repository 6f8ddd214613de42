"""Test-wide set-up: Prefect isolated in a temporary home, no telemetry, one embedded API for the session."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before anything imports prefect: it creates PREFECT_HOME at import time. Removed when the test run ends.
_PREFECT_HOME = tempfile.mkdtemp(prefix="sentiment-prefect-")
atexit.register(shutil.rmtree, _PREFECT_HOME, ignore_errors=True)
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["DO_NOT_TRACK"] = "1"
os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "120"
os.environ.pop("PREFECT_API_URL", None)
for _name in [n for n in os.environ if n.startswith("SENTIMENT_")]:
    os.environ.pop(_name)
# A sentiment.toml in the working folder must not leak into tests.
os.environ["SENTIMENT_CONFIG"] = str(Path(_PREFECT_HOME) / "no-such-config.toml")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FIXTURES = REPO / "tests" / "fixtures"
SAMPLE = REPO / "data" / "sample"


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One embedded Prefect API for every flow-level test (a fresh one costs ~10 s)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def shared_samples() -> Path:
    """../shared/samples, or skip: a user's clone has no ../shared."""
    path = SHARED / "samples"
    if not path.is_dir():
        pytest.skip("../shared/samples not present")
    return path


@pytest.fixture
def fixtures_dir() -> Path:
    """tests/fixtures: the project's own hand-written files in exact real formats."""
    return FIXTURES


@pytest.fixture
def sample_dir() -> Path:
    """data/sample: the bundled synthetic sample."""
    return SAMPLE
