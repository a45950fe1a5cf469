"""zoneindex: reproducible composite indices for development zones (ingest → clean → score → validate → visualize)."""
__version__ = "0.1.0"
