"""The schema of a study definition: every shipped study passes it, every one-letter misspelling of any of
their keys is refused with the right key suggested, the code reads no key the schema does not know, the
reference and the JSON Schema in docs/ are the generated ones, and ``zoneindex check`` passes on every shipped study and is clear."""
import ast
import copy
import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from zoneindex import cli, paths, schema
from zoneindex.errors import InputError
from zoneindex.schema import options, records, sections
from zoneindex.schema.reference import json_schema, json_schema_text, markdown_reference
from zoneindex.study import available_studies, load_study

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = available_studies()
# mappings whose keys are names the study chooses (alternative sets, denominators, published component
# names, raw codes, levels, node codes of weights): not schema keys, so not misspelt keys either
FREE = [r"^alternatives\.[^.]+$", r"^denominators\.[^.]+$", r"\.codes\.[^.]+$", r"\.indicators\.[^.]+$",
        r"\.by_level\.[^.]+$", r"\.(matrices|fixed|nodes)\.[^.]+$", r"^references\[\d+\]\.variables\.[^.]+$"]


def config_of(study: str) -> dict:
    return yaml.safe_load((paths.SEEDS / study / "study.yaml").read_text(encoding="utf-8"))


def key_paths(node, path=()):
    """Every (path, key) of a YAML document, depth first."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield path, key
            yield from key_paths(value, path + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from key_paths(value, path + (i,))


def misspell(key: str, n: int) -> str:
    """A deterministic one-letter misspelling: drop, double or swap the middle letter (by turns)."""
    key, i = str(key), len(str(key)) // 2
    kind = n % 3 if len(key) > 2 else 1
    if kind == 0:
        return key[:i] + key[i + 1:]
    if kind == 2 and key[i - 1] != key[i]:
        return key[:i - 1] + key[i] + key[i - 1] + key[i + 1:]
    return key[:i] + key[i] + key[i:]


def typo_cases():
    for study in SHIPPED:
        for n, (path, key) in enumerate(key_paths(config_of(study))):
            dotted = schema.key_path(list(path) + [key])
            if not isinstance(key, str) or any(re.search(p, dotted) for p in FREE):
                continue
            yield pytest.param(study, path, key, misspell(key, n), id=f"{study}:{dotted}")


@pytest.mark.parametrize("study", SHIPPED)
def test_every_shipped_study_passes_the_schema_and_the_json_schema(study):
    load_study(study)
    jsonschema.validate(json.loads(json.dumps(config_of(study), default=str)), json_schema())


@pytest.fixture(scope="module")
def frameworks():
    return {name: load_study(name).framework for name in SHIPPED}


@pytest.mark.parametrize("study, path, key, typo", list(typo_cases()))
def test_a_one_letter_misspelling_of_any_key_is_refused_with_the_right_key_suggested(study, path, key, typo,
                                                                                    frameworks):
    config = copy.deepcopy(config_of(study))
    parent = config
    for part in path:
        parent = parent[part]
    parent[typo] = parent.pop(key)
    with pytest.raises(InputError) as error:
        schema.validate(config, paths.SEEDS / study / "study.yaml", frameworks[study])
    message = str(error.value)
    assert f"did you mean {key!r}" in message and repr(typo) in message and "study.yaml" in message, message


def test_a_misspelt_method_name_names_the_key_path_and_the_nearest_method():
    config = config_of("asem")
    config["methods"]["normalisation"]["method"] = "minmx"
    with pytest.raises(InputError, match=r"column 'methods.normalisation.method': unknown normalisation method "
                                         r"\(did you mean 'minmax'\?\); value 'minmx'"):
        schema.validate(config, None)
    config = config_of("asem")
    config["uncertainty"]["inputs"]["outliers"][2]["winmx"] = 3
    with pytest.raises(InputError, match=r"'uncertainty.inputs.outliers\[2\].winmx': unknown key 'winmx' "
                                         r"\(did you mean 'winmax'\?\)"):
        schema.validate(config, None)


def test_every_problem_is_reported_at_once_and_types_are_named():
    config = config_of("cdht")
    config["years"]["first"] = "2016"
    config["methods"]["normalisation"]["zero_base"] = 3
    with pytest.raises(InputError) as error:
        schema.validate(config, Path("study.yaml"))
    lines = str(error.value).splitlines()
    assert lines[0].startswith("file study.yaml, column 'years.first': wrong type of value; value '2016'; "
                               "expected a whole number")
    assert any("methods.normalisation.zero_base" in line for line in lines[1:])


def test_a_new_method_needs_no_schema_edit(monkeypatch):
    """The options of a method come from its registered function: a method added to a registry is accepted
    with exactly its own options (the way TOPSIS or grey relational analysis will be added)."""
    def topsis_like(matrix, framework, base_year, ideal: float = 1.0, cap: bool = False):
        """A toy method registered only for this test."""
    family = options.FAMILIES["normalisation"]
    models = options.method_models(options.Family("normalisation", {"toy": topsis_like}, family.skip))
    assert set(models["toy"].model_fields) == {"method", "ideal", "cap"}
    assert models["toy"].model_fields["ideal"].default == 1.0
    models["toy"].model_validate({"method": "toy", "ideal": 2})
    with pytest.raises(Exception, match="unknown key"):
        models["toy"].model_validate({"method": "toy", "idael": 2})


def _schema_keys() -> set:
    keys = set(sections.METHOD_STEPS)
    models = [m for m in vars(sections).values() if isinstance(m, type) and issubclass(m, sections.Section)]
    models += [options.AggregationSettings, options.LevelRule, options.ImputeMissing, records.SourceRecord]
    models += [m for family in options.STEP_MODELS.values() for m in family.values()]
    models += list(options.AGGREGATION_MODELS.values())
    for model in models:
        keys |= {field.alias or name for name, field in model.model_fields.items()}
    return keys | {"with"}   # an aggregation alternative's companions (uncertainty.inputs)


# names of the variables through which the code reads study.yaml (and what comes from it)
CONFIG_NAMES = {"config", "methods", "spec", "raw", "aggregation", "screening", "rule", "override", "imputed",
                "lists", "target", "outliers", "norm", "alternative", "norm_spec", "weight_spec", "study_config",
                "years", "imputation", "uncertainty", "value"}
# keys read through those names that are not keys of study.yaml: rows of tables and records, not settings
NOT_STUDY_KEYS = {"sha256", "bytes", "selection", "unit", "name_en", "name_zh", "entity", "code", "year",
                  "q05", "q95", "median", "nominal",
                  "sets"}  # a key of the past: uncertainty.parse_spec refuses it with its own explanation


def _reads(tree) -> set:
    """String keys read as X.get("k") or X["k"], X a name in CONFIG_NAMES (or an attribute of that name)."""
    found = set()

    def name(node):
        return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None

    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
                and name(node.func.value) in CONFIG_NAMES and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            found.add(node.args[0].value)
        if isinstance(node, ast.Subscript) and name(node.value) in CONFIG_NAMES \
                and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
            found.add(node.slice.value)
    return found


def test_every_key_the_code_reads_is_in_the_schema():
    read = set()
    for path in sorted((ROOT / "src" / "zoneindex").rglob("*.py")):
        if "schema" in path.parts:
            continue
        read |= _reads(ast.parse(path.read_text(encoding="utf-8")))
    undocumented = sorted(read - _schema_keys() - NOT_STUDY_KEYS)
    assert not undocumented, f"keys read from study.yaml that the schema does not document: {undocumented}"
    assert {"min_availability", "non_positive", "rebase", "uncertainty", "entity_names"} <= read
    # and the other way round: every key of a section is named somewhere in the code that uses it
    named = {node.value for path in (ROOT / "src" / "zoneindex").rglob("*.py") if "schema" not in path.parts
             for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
             if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    sections_ = [m for m in vars(sections).values() if isinstance(m, type) and issubclass(m, sections.Section)]
    unused = sorted({field.alias or name for model in sections_ + [options.AggregationSettings, options.LevelRule,
                                                                   options.ImputeMissing]
                     for name, field in model.model_fields.items()} - named)
    assert not unused, f"schema keys no code reads: {unused}"


def test_the_reference_and_the_json_schema_in_docs_are_the_generated_ones():
    assert (ROOT / "docs" / "study-reference.md").read_text(encoding="utf-8") == markdown_reference(), \
        "docs/study-reference.md is stale: zoneindex schema --markdown > docs/study-reference.md"
    assert (ROOT / "docs" / "study.schema.json").read_text(encoding="utf-8") == json_schema_text(), \
        "docs/study.schema.json is stale: zoneindex schema --json > docs/study.schema.json"
    for study in SHIPPED:
        first = (paths.SEEDS / study / "study.yaml").read_text(encoding="utf-8").splitlines()[0]
        assert first == "# yaml-language-server: $schema=../../docs/study.schema.json", study
    assert "docs/study-reference.md" in (ROOT / "README.md").read_text(encoding="utf-8")


def test_framework_method_columns_are_checked_by_row_and_column(tmp_path):
    study = load_study("hdi")
    table = study.framework.table.reset_index(drop=True)
    bad = type(study.framework).from_table(table.assign(transform=table["transform"].replace("log", "lg")),
                                           study.framework.source)
    with pytest.raises(InputError, match=r"row \d+, column 'transform'.*value 'lg'"):
        records.check_framework_columns(bad)
    typo = type(study.framework).from_table(table.rename(columns={"goalpost_hi": "goalpost_hl"}), study.framework.source)
    with pytest.raises(InputError, match="unknown column 'goalpost_hl' \\(did you mean 'goalpost_hi'\\?\\)"):
        records.check_framework_columns(typo)


def test_a_source_record_with_a_misspelt_field_is_refused():
    with pytest.raises(InputError, match=r"'licnce': unknown key 'licnce' \(did you mean 'licence'\?\)"):
        records.check_source_record({"title": "t", "publisher": "p", "url": "u", "retrieved": "2026-01-01",
                                     "licnce": "CC0", "illustrative": False, "sha256": "0" * 64, "bytes": 1},
                                    Path("x.csv.source.yaml"))


@pytest.mark.parametrize("study", SHIPPED)
def test_zoneindex_check_passes_on_every_shipped_study(study, capsys):
    # in this process (the command in a process of its own: the tests below); how long it takes is measured by
    # benchmarks/pipeline.py (the "check" stage), not asserted here
    code = cli.main(["check", "--study", study])
    done = capsys.readouterr()
    assert code == 0, done.err
    assert "checked in" in done.out


def test_a_bad_definition_gives_one_line_no_traceback(tmp_path):
    from tests.helpers import copy_project, zoneindex

    project = copy_project(tmp_path / "project")
    path = project / "seeds/cdht/study.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("min_availability: 0.5", "min_availabilty: 0.5"),
                    encoding="utf-8")
    done = zoneindex("check", "--study", "cdht", env={"ZONEINDEX_ROOT": str(project)})  # a process of its own
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("zoneindex: file study.yaml, column 'methods.aggregation.min_availabilty': "
                                  "unknown key 'min_availabilty' (did you mean 'min_availability'?)")


def test_new_study_from_a_publishers_wide_file_passes_the_check(tmp_path, monkeypatch, capsys):
    """A publisher's file with a notes column and a colour code: new-study writes a definition that the
    check accepts at once (the text columns are left out by name)."""
    from tests.helpers import run_cli, use_project_copy

    project = use_project_copy(tmp_path / "project", monkeypatch)
    source = tmp_path / "golden_panda_2024.csv"
    source.write_text("city,year,GDP growth,Patents per 10k,traffic light,note\n"
                      "Chengdu,2023,6.0,40.1,green,\nChengdu,2024,5.7,43.0,green,provisional\n"
                      "Xi'an,2023,5.2,35.5,amber,\nXi'an,2024,5.6,36.0,green,\n", encoding="utf-8")
    code, _, err = run_cli(capsys, "new-study", "golden_panda", "--from", str(source))
    assert code == 0, err
    config = yaml.safe_load((project / "seeds/golden_panda/study.yaml").read_text(encoding="utf-8"))
    assert config["data"][0]["indicators"] == {"GDP growth": "GDP_growth", "Patents per 10k": "Patents_per_10k"}
    code, out, err = run_cli(capsys, "check", "--study", "golden_panda")
    assert code == 0, err
    assert "entities: 2 (Chengdu, Xi'an)" in out and "framework: 2 indicators" in out
    code, _, err = run_cli(capsys, "new-study", "golden_panda", "--from", str(source))
    assert code == 1 and "exists already" in err and "Traceback" not in err


# what a new user got wrong when adding a published index (the list), each now one clear message
EDITS = [
    ("seeds/cdht/study.yaml", "years: {first: 2016, last: 2023}", "years: {first: 2016, last: 2023",
     "study.yaml is not valid YAML"),
    ("seeds/cdht/study.yaml", "min_availability: 0.5", "min_availability: 50",
     "'methods.aggregation.min_availability': Input should be less than or equal to 1; value 50"),
    ("seeds/cdht/study.yaml", "  outliers: {method: none}\n", "  outliers: {method: none}\n  screning: {count: present}\n",
     "unknown key 'screning' (did you mean 'screening'?)"),
    ("seeds/cdht/study.yaml", "- file: cdht_illustrative_panel.csv", "- file: cdht_ilustrative_panel.csv",
     "raw file not found (did you mean 'cdht_illustrative_panel.csv'?)"),
    ("seeds/cdht/framework.csv", "USD 100m,1,", "USD 100m,\u22121,", "typographic minus sign"),
    ("seeds/asem/study.yaml", "    year: Time\n", "", "a wide file without a year column (year:) needs fixed_year:"),
]


@pytest.mark.parametrize("file, old, new, message", EDITS, ids=[e[3][:30] for e in EDITS])
def test_the_mistakes_of_a_new_study_are_one_clear_message(file, old, new, message, tmp_path, monkeypatch, capsys):
    # checked by cli.main in this process; the same message from a process of its own: the test above
    from tests.helpers import run_cli, use_project_copy

    project = use_project_copy(tmp_path / "project", monkeypatch)
    path = project / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    code, _, err = run_cli(capsys, "check", "--study", file.split("/")[1])
    assert code == 1 and "Traceback" not in err, err
    assert message in err and err.startswith("zoneindex: "), err


def test_a_wide_file_with_text_columns_reads_the_chosen_columns_only(tmp_path, monkeypatch):
    from zoneindex import ingest
    from zoneindex.provenance import write_source_record
    from zoneindex.study import Study

    monkeypatch.setattr(paths, "RAW", tmp_path)
    asem = load_study("asem")
    (tmp_path / "asem").mkdir()
    source = (paths.PROJECT_ROOT / "data/raw/asem/ASEM_iData.csv").read_text(encoding="utf-8").splitlines()
    lines = [source[0] + ",traffic light,note"] + [row + ",green,see annex" for row in source[1:]]
    (tmp_path / "asem" / "ASEM_iData.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    write_source_record(tmp_path / "asem" / "ASEM_iData.csv", title="t", publisher="p", url="u", retrieved="r",
                        licence="l", illustrative=False)
    codes = asem.framework.indicators + list(asem.denominators)
    spec = {**asem.config["data"][0], "indicators": {c: c for c in codes}}
    tidy, _ = ingest.ingest(Study("asem", asem.folder, {**asem.config, "data": [spec]}, asem.framework), 2018)
    assert set(tidy["indicator"]) <= set(codes) and len(tidy) > 2000
