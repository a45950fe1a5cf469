"""``zoneindex record``: the source record of a new raw file (a filled questionnaire, a yearbook table)."""
from __future__ import annotations

import hashlib

import yaml

from zoneindex.cli import main
from zoneindex.provenance import read_source_record

ARGS = ["--title", "expert E05's questionnaire", "--publisher", "an expert of the panel", "--url",
        "received by e-mail", "--licence", "for this study only"]


def test_the_record_measures_the_file_and_the_reader_accepts_it(tmp_path, capsys):
    raw = tmp_path / "expert_E05.xlsx"
    raw.write_bytes(b"PK\x03\x04 not really a workbook")
    assert main(["record", str(raw), *ARGS, "--retrieved", "2026-12-01"]) == 0
    record = yaml.safe_load((tmp_path / "expert_E05.xlsx.source.yaml").read_text(encoding="utf-8"))
    assert record["sha256"] == hashlib.sha256(raw.read_bytes()).hexdigest() and record["bytes"] == raw.stat().st_size
    assert record["illustrative"] is False and record["retrieved"] == "2026-12-01"
    assert read_source_record(raw)["publisher"] == "an expert of the panel"
    # a second record would replace the first: refused (a changed file is a new file)
    assert main(["record", str(raw), *ARGS, "--retrieved", "2026-12-01"]) == 1
    assert "has a source record already" in capsys.readouterr().err


def test_a_bad_date_or_a_missing_file_is_refused(tmp_path, capsys):
    raw = tmp_path / "table.csv"
    raw.write_text("a,b\n1,2\n", encoding="utf-8")
    assert main(["record", str(raw), *ARGS, "--retrieved", "1.12.2026"]) == 1
    assert "not a date" in capsys.readouterr().err and not (tmp_path / "table.csv.source.yaml").exists()
    assert main(["record", str(tmp_path / "missing.csv"), *ARGS, "--retrieved", "2026-12-01"]) == 1
    assert "no such raw file" in capsys.readouterr().err
