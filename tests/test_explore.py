"""The what-if explorer: every change re-scores and draws in under a second, its numbers are the what-if API's,
the saved entry pasted into study.yaml reproduces the variant, and the notebook's widgets are wired to it."""
import json

import nbformat
import pytest
import yaml
from nbclient import NotebookClient

import zoneindex as zi
from zoneindex import paths, score
from zoneindex.errors import InputError
from zoneindex.explore import Explorer
from zoneindex.schema import validate
from zoneindex.study import Study


@pytest.fixture(scope="module")
def cdht(tmp_path_factory):
    scratch = tmp_path_factory.mktemp("scratch")
    return Explorer(zi.load("cdht", out_root=tmp_path_factory.mktemp("empty")), scratch=scratch)


@pytest.fixture(scope="module")
def asem(tmp_path_factory):
    return Explorer(zi.load("asem", out_root=tmp_path_factory.mktemp("empty")))


def changes(explorer: Explorer) -> list[dict]:
    """A weight, a normalisation and an aggregation change, one at a time and all together."""
    weights = {s.code: s.value for s in explorer.sliders()}
    first = explorer.dimensions[0]
    normalisation, aggregation = list(explorer.choices["normalisation"])[1], list(explorer.choices["aggregation"])[1]
    return [{"weights": {**weights, first: 2.5}}, {"normalisation": normalisation}, {"aggregation": aggregation},
            {"weights": {**weights, first: 0.0}, "normalisation": normalisation, "aggregation": aggregation}]


@pytest.mark.parametrize("study", ["cdht", "asem"])
def test_every_change_is_rescored_and_drawn(study, request):
    # the seconds a change takes are measured by benchmarks/whatif.py (explorer_seconds_per_change)
    explorer = request.getfixturevalue(study)
    for change in changes(explorer):
        view = explorer.view(**change)
        assert view.result is not None, view.headline
        assert view.png[:8] == b"\x89PNG\r\n\x1a\n"
        assert view.table_html().startswith("<table")


def test_the_nominal_view_is_the_nominal_result_and_a_weight_moves_the_index(cdht):
    nominal = cdht.view()
    assert nominal.overrides == {} and nominal.result.scores.equals(cdht.nominal.scores)
    assert (nominal.shift["change"] == 0).all() and "142.86 (nominal) → 142.86 (+0.00)" in nominal.headline
    heavier = cdht.view(weights={"D3": 2.0})
    assert heavier.overrides == {"weights": {"method": "fixed", "nodes": {"D3": 2.0}}}
    by_api = cdht.session.score(weights={"D3": 2.0})
    assert heavier.result.scores.equals(by_api.scores)
    row = heavier.shift.set_index("code").loc["CDHT"]
    assert row["after"] - row["before"] == pytest.approx(row["change"]) and row["change"] > 0  # D3 grew most
    assert list(heavier.shift["code"]) == ["CDHT", *cdht.dimensions]


def test_a_cross_section_shows_the_ranking_and_the_rank_shifts(asem):
    view = asem.view(normalisation=list(asem.choices["normalisation"])[1])
    assert not asem.series and "mean |rank shift|" in view.headline and "Spearman" in view.headline
    assert list(view.shift.columns) == ["entity", "before", "after", "rank_before", "rank_after", "rank_shift"]
    assert view.shift["rank_shift"].abs().is_monotonic_decreasing


def test_the_drop_downs_offer_the_study_choices_that_score_its_data(cdht):
    labels = list(cdht.choices["normalisation"])
    assert labels[0] == "nominal: ratio_to_base (zero_base error)" and cdht.nominal_choice("normalisation") == labels[0]
    assert "chained_growth" in labels and "efficacy" in labels  # from alternatives: in study.yaml
    assert "zscore" not in labels  # rebased on a base near 0, it scores nothing usable
    assert {"geometric", "mazziotta_pareto"} <= set(cdht.choices["aggregation"])
    for label in labels[1:]:
        assert cdht.view(normalisation=label).result is not None, label
    with pytest.raises(InputError, match="not a normalisation choice"):
        cdht.view(normalisation="no such method")


def test_the_saved_entry_pasted_into_study_yaml_reproduces_the_variant(cdht):
    change = changes(cdht)[-1]
    view = cdht.view(**change)
    text = cdht.save("heavier_innovation", view)
    assert text.startswith("# paste under alternatives: in seeds/cdht/study.yaml\n  heavier_innovation: {")
    assert (cdht.scratch / "alternatives" / "heavier_innovation.yaml").read_text(encoding="utf-8") == text
    entry = yaml.safe_load("alternatives:\n" + text)["alternatives"]
    study = cdht.study
    config = {**study.config, "alternatives": {**(study.config.get("alternatives") or {}), **entry}}
    validate(config, study.folder / "study.yaml", study.framework)   # the study check accepts it
    pasted = Study(study.name, study.folder, config, study.framework)
    scores = score.alternatives(pasted, cdht.session.ingested, range(study.first_year, cdht.session.year + 1),
                                cdht.session.entities)["heavier_innovation"]
    assert scores.equals(view.result.scores)
    with pytest.raises(InputError, match="letters, digits and _"):
        cdht.save("heavier innovation", view)


def test_a_refused_variant_says_why_and_saves_nothing(cdht):
    view = cdht.view(weights={"D3": -1.0})
    assert view.result is None and view.headline.startswith("refused:") and "number >= 0" in view.headline
    with pytest.raises(InputError, match="nothing to save"):
        cdht.save("negative", view)


@pytest.mark.slow  # runs the notebook on a kernel
def test_the_notebook_wires_the_widgets_to_the_explorer(tmp_path, monkeypatch):
    """explore.ipynb run with its defaults, then a slider and a drop-down moved and the button clicked in its
    kernel, as a researcher would."""
    monkeypatch.setenv(paths.OUT_ROOT_ENV, str(tmp_path))
    nb = nbformat.read(paths.NOTEBOOKS / "explore.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "import json\n"
        "before = state['view'].headline\n"
        "sliders['D3'].value = 2.0\n"
        "methods['aggregation'].value = list(explorer.choices['aggregation'])[2]\n"
        "name.value = 'heavier_innovation'\n"
        "save.click()\n"
        "print(json.dumps({'before': before, 'after': state['view'].headline, 'seconds': state['view'].seconds,\n"
        "                  'overrides': state['view'].overrides, 'entry': entry.value, 'png': len(picture.value)}))"))
    NotebookClient(nb, timeout=600, resources={"metadata": {"path": str(paths.NOTEBOOKS)}}).execute()
    report = json.loads(nb.cells[-1].outputs[-1]["text"])
    assert report["before"] != report["after"] and report["png"] > 1000  # (its speed: the test above)
    assert report["overrides"]["weights"] == {"method": "fixed", "nodes": {"D3": 2.0}}
    assert "heavier_innovation:" in report["entry"] and '"nodes": {"D3": 2.0}' in report["entry"]
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == \
        ["scratch/cdht/2023/alternatives/heavier_innovation.yaml"]


@pytest.mark.parametrize("nodes, message", [({"D3": -1}, "number >= 0"), ({"CDHT": 2.0}, "no siblings"),
                                            ({"D9": 1.0}, "not a node"), ([1.0], "mapping")])
def test_node_weights_as_study_yaml_writes_them_are_checked(cdht, nodes, message):
    with pytest.raises(InputError, match=message):
        cdht.session.score(weights={"method": "fixed", "nodes": nodes})
