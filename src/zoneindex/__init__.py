"""zoneindex: reproducible composite indices for development zones (ingest → clean → score → validate → visualize).

The what-if API for notebooks: ``zi.load(study)`` and ``zi.compare(base, alternative)`` (see
:mod:`zoneindex.whatif`); they are imported on first use, so ``import zoneindex`` stays light.
"""
__version__ = "0.1.0"
__all__ = ["load", "compare"]


def __getattr__(name: str):
    if name in __all__:
        from zoneindex import whatif
        return getattr(whatif, name)
    raise AttributeError(f"module 'zoneindex' has no attribute {name!r}")
