"""community-sentiment: chat exports and exchange prices into a Parquet lake, and honest lead-lag reports."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("community-sentiment")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
