"""Streaming summaries of Monte Carlo replications with memory bounded by a budget (pure NumPy): exact
quantiles (``quantiles``, in memory ``kept``) and counts, moments and rank histograms (``counts``)."""
from zoneindex.streaming.counts import RankCounts, StreamingMoments, descending_ranks
from zoneindex.streaming.kept import Place
from zoneindex.streaming.quantiles import ExactQuantiles, type7_lerp, type7_positions

__all__ = ["ExactQuantiles", "Place", "StreamingMoments", "RankCounts", "descending_ranks", "type7_positions",
           "type7_lerp"]
