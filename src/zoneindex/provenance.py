"""Source records for raw files: who published a file, where it came from, and its sha256.

Every raw file ``data/raw/<study>/<name>`` has a sidecar ``<name>.source.yaml`` (the Our World in Data
snapshot idea): publisher, URL or repository, retrieval date, licence, sha256 and size. Ingest refuses a
raw file whose bytes no longer match its record, which is what keeps raw data immutable.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

from zoneindex.errors import InputError

REQUIRED_FIELDS = ("title", "publisher", "url", "retrieved", "licence", "sha256", "bytes", "illustrative")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def record_path(raw_file: Path) -> Path:
    return raw_file.with_name(raw_file.name + ".source.yaml")


def write_source_record(raw_file: Path, **fields) -> Path:
    """Write the sidecar for ``raw_file``; sha256 and size are measured, never typed in."""
    record = {"file": raw_file.name, **fields,
              "sha256": sha256_file(raw_file), "bytes": raw_file.stat().st_size}
    missing = [key for key in REQUIRED_FIELDS if key not in record]
    if missing:
        raise ValueError(f"source record for {raw_file.name} lacks {missing}")
    target = record_path(raw_file)
    target.write_text(yaml.safe_dump(record, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return target


def write_generated_record(raw_file: Path, *, title: str, generator: str, seed: int, retrieved: str,
                           description: str, **fields) -> Path:
    """The sidecar of a file this project generated (illustrative data, never official statistics): the
    project as publisher, the generating script as its address, CC0, flagged illustrative, with its seed."""
    return write_source_record(raw_file, title=title, publisher="zoneindex project (generated, illustrative)",
                               url=generator, retrieved=retrieved, licence="CC0-1.0", illustrative=True,
                               generator=generator, seed=seed, description=description, **fields)


def read_source_record(raw_file: Path, verify: bool = True) -> dict:
    """Read and check the sidecar of ``raw_file``: it must exist, be complete and match the bytes."""
    sidecar = record_path(raw_file)
    if not sidecar.exists():
        raise InputError(f"raw file has no source record (expected {sidecar.name})", file=raw_file)
    record = yaml.safe_load(sidecar.read_text(encoding="utf-8")) or {}
    missing = [key for key in REQUIRED_FIELDS if key not in record]
    if missing:
        raise InputError(f"source record lacks the fields {missing}", file=sidecar,
                         expected=", ".join(REQUIRED_FIELDS))
    if verify:
        actual = sha256_file(raw_file)
        if actual != record["sha256"]:
            raise InputError("raw file changed since its source record was written (raw data is immutable: "
                             "add a new file with its own record instead of editing this one)",
                             file=raw_file, value=actual, expected=record["sha256"])
    return record
