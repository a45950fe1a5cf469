"""Streaming summaries of Monte Carlo replications with memory bounded by a budget (pure NumPy): exact
quantiles (``quantiles``) and counts, moments and rank histograms (``counts``)."""
from zoneindex.streaming.counts import RankCounts, StreamingMoments, descending_ranks
from zoneindex.streaming.quantiles import ExactQuantiles, type7_lerp, type7_positions

__all__ = ["ExactQuantiles", "StreamingMoments", "RankCounts", "descending_ranks", "type7_positions",
           "type7_lerp"]
