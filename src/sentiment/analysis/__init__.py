"""Statistics on the weekly table: lead-lag correlations and walk-forward forecasts."""

from sentiment.analysis.leadlag import LAG_CONVENTION, lead_lag
from sentiment.analysis.walkforward import walk_forward

__all__ = ["LAG_CONVENTION", "lead_lag", "walk_forward"]
