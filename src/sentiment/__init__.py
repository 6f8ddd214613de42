"""community-sentiment: chat exports and exchange prices into a Parquet lake, and honest lead-lag reports."""

import os
from importlib.metadata import PackageNotFoundError, version

# deltalake allocates through its own jemalloc, which returns freed pages only while it keeps allocating: a 1M-row
# Delta write left ~110 MB the process never used again (a run's later steps then peaked that much higher). A
# background thread returns them about a second after they are freed (returning them at once cost an ingest twice
# the system time). Set _RJEM_MALLOC_CONF yourself to choose otherwise; it is read when deltalake loads.
os.environ.setdefault("_RJEM_MALLOC_CONF", "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0")

try:
    __version__ = version("community-sentiment")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
