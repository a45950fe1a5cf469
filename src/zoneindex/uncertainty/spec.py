"""The ``uncertainty:`` section of study.yaml: the uncertain inputs, validated into a :class:`Spec`."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from zoneindex.errors import InputError
from zoneindex.score import with_methods
from zoneindex.study import Study, check_method_names

SPEC_KEYS = ("runs", "sobol_n", "seed", "nboot", "confidence", "sampler", "memory_mb", "target", "levels",
             "rank_levels", "inputs")
EVALUATION_STEPS = ("weights", "aggregation")  # every other step changes the data: computed once
SAMPLERS = ("random", "sobol")
COLUMN = "uncertainty"
WITH = "with"   # an aggregation alternative's companion choices of data-side steps
NO_SETS = ("weight sets are not pooled any more: every replication draws its own noise factors (in the "
           "sensitivity analysis the weights are one group factor with noise matrices N_A, N_B), because a fixed "
           "pool of K sets makes the weights a factor with only K values and its Sobol intervals too narrow; "
           "remove sets:")


def _label(spec: dict) -> str:
    """A short readable name of one alternative, e.g. ``jrc (winmax=3)``."""
    spec = dict(spec)
    companions = spec.pop(WITH, None)
    if companions:
        return f"{_label(spec)} with " + ", ".join(f"{step} {_label(v)}" for step, v in companions.items())
    name = spec.pop("method", None)
    options = ", ".join(f"{k}={json.dumps(v, sort_keys=True, ensure_ascii=False) if isinstance(v, (dict, list)) else v}"
                        for k, v in spec.items())
    if name is None:
        return options or "nominal"
    return f"{name} ({options})" if options else str(name)


@dataclass(frozen=True)
class Input:
    """One uncertain input (one Sobol factor).

    ``kind`` is ``data`` (a data-side method step: its alternatives change the normalised matrix),
    ``aggregation`` (alternative aggregation settings, merged into the study's own as ``with_methods``
    does; an alternative may name companion data-side choices under ``with:``), ``weight_method``
    (alternative weighting methods) or ``weight_noise`` (every nominal weight of the nodes at ``levels``
    multiplied by an independent U(1 − noise, 1 + noise) factor, drawn afresh for every replication).
    """

    name: str
    step: str
    kind: str
    alternatives: tuple = ()
    noise: float = 0.0
    levels: tuple = ()

    @property
    def size(self) -> int:
        """Number of discrete values the input takes (0 for weight noise: a continuous group factor)."""
        return 0 if self.kind == "weight_noise" else len(self.alternatives)

    @property
    def labels(self) -> list[str]:
        """Readable names of the alternatives."""
        return [_label(a) for a in self.alternatives]

    def describe(self) -> str:
        """One line for the write-up's table of inputs."""
        if self.kind == "weight_noise":
            return (f"weights × U({1 - self.noise:g}, {1 + self.noise:g}) at level(s) "
                    f"{', '.join(map(str, self.levels))}")
        if self.alternatives and all("draw" in a for a in self.alternatives):
            return f"ahp_panel weights drawn within the experts' range ({len(self.alternatives)} seeded draws)"
        return "; ".join(self.labels)


@dataclass(frozen=True)
class Spec:
    """The validated ``uncertainty:`` section (see the package docstring for the YAML schema)."""

    inputs: tuple
    runs: int = 1000
    sobol_n: int = 256
    seed: int = 1
    nboot: int = 1000
    confidence: float = 0.9
    sampler: str = "random"
    memory_mb: float = 512.0
    target: dict = field(default_factory=dict)
    levels: tuple | None = None
    rank_levels: tuple | None = None

    @property
    def d(self) -> int:
        """Number of uncertain inputs (Sobol factors)."""
        return len(self.inputs)

    @property
    def names(self) -> list[str]:
        """Input names, in the order of the Sobol factors."""
        return [i.name for i in self.inputs]


def _fail(problem: str, column: str, value=None, expected: str | None = None, file=None):
    """Raise the project's InputError for a bad ``uncertainty:`` setting."""
    raise InputError(problem, file=file, column=column, value=value, expected=expected)


def parse_spec(study: Study, spec: dict | None = None) -> Spec:
    """Validate the ``uncertainty:`` section of ``study.yaml`` (or ``spec`` when given) into a :class:`Spec`.

    Every input key names a method step of the study (``imputation``, ``screening``, ``outliers``,
    ``normalisation``, ``weights``, ``aggregation`` …). A list gives the discrete alternatives of that step;
    each alternative replaces the step as ``score.with_methods`` does (a spec with a new ``method`` replaces
    the step whole; aggregation alternatives are merged into the study's aggregation settings, so the rules
    for missing children carry over, and so do its ``by_level`` overrides unless the alternative gives its
    own, e.g. ``{method: geometric, by_level: {}}``). An aggregation alternative that only makes sense with
    a data-side choice names it under ``with:``, e.g. ``{chain: true, with: {normalisation: {method:
    chained_growth}}}``: whenever it is drawn that choice replaces whatever the other input drew (the NBS
    pairing of chain-linked aggregation with chained indicator growth). ``weights`` may instead be a mapping
    ``{noise: ε, levels: [...], separate_levels: false}``: the nominal weight of every node at the listed
    levels (1 = indicators; default every level below the index) is multiplied by an independent factor
    u ~ U(1 − ε, 1 + ε), COINr's ``get_noisy_weights``, drawn afresh for every replication; with
    ``separate_levels: true`` each level is its own Sobol input. Unknown method names are refused with the
    names that exist, naming the input.
    """
    path = study.folder / "study.yaml" if study.folder is not None else None
    raw = spec if spec is not None else study.config.get("uncertainty")
    if not isinstance(raw, dict):
        _fail("the study declares no uncertainty analysis", COLUMN, raw, "an uncertainty: mapping with inputs:", path)
    unknown = sorted(set(raw) - set(SPEC_KEYS))
    if unknown:
        _fail("unknown uncertainty option", COLUMN, unknown, f"some of {list(SPEC_KEYS)}", path)
    inputs_raw = raw.get("inputs")
    if not isinstance(inputs_raw, dict) or not inputs_raw:
        _fail("no uncertain inputs", f"{COLUMN}.inputs", inputs_raw, "a mapping step -> alternatives", path)
    fw = study.framework
    inputs = []
    for step, value in inputs_raw.items():
        column = f"{COLUMN}.inputs.{step}"
        if step == "rebase" or (step not in study.methods and step not in ("imputation", "outliers", "screening")):
            _fail("not a method step of the study", column, step, f"one of {sorted(study.methods)}", path)
        if step == "weights" and isinstance(value, dict) and "from_experts" in value:
            inputs.append(_from_experts(study, value, column, path))
            continue
        if step == "weights" and isinstance(value, dict):
            inputs += _weight_noise(value, column, fw.max_level, path)
            continue
        if not isinstance(value, list) or not value or not all(isinstance(a, dict) for a in value):
            _fail("alternatives must be a non-empty list of method settings", column, value,
                  "e.g. [{method: minmax}, {method: zscore}]", path)
        for i, alternative in enumerate(value):
            if step != "aggregation" and step != "screening" and "method" not in alternative:
                _fail("alternative without a method", f"{column}[{i}]", alternative, "a method: key", path)
            _check_alternative(study, step, alternative, f"{column}[{i}]", path)
        kind = "aggregation" if step == "aggregation" else "weight_method" if step == "weights" else "data"
        inputs.append(Input(step, step, kind, alternatives=tuple(dict(a) for a in value)))
    names = [i.name for i in inputs]
    if len(set(names)) != len(names):
        _fail("an input is declared twice", f"{COLUMN}.inputs", names, "each step once", path)
    sampler = raw.get("sampler", "random")
    if sampler not in SAMPLERS:
        _fail("unknown sampler", f"{COLUMN}.sampler", sampler, f"one of {list(SAMPLERS)}", path)
    numbers = {"runs": 1000, "sobol_n": 256, "seed": 1, "nboot": 1000}
    values = {}
    for key, default in numbers.items():
        v = raw.get(key, default)
        if not isinstance(v, int) or isinstance(v, bool) or v < (0 if key in ("seed", "nboot") else 2):
            _fail("not a whole number in range", f"{COLUMN}.{key}", v, "a whole number >= 2 (seed, nboot >= 0)", path)
        values[key] = v
    confidence = float(raw.get("confidence", 0.9))
    if not 0 < confidence < 1:
        _fail("confidence must be in (0, 1)", f"{COLUMN}.confidence", confidence, "e.g. 0.9", path)
    memory = float(raw.get("memory_mb", 512))
    if memory < 16:
        _fail("memory budget too small", f"{COLUMN}.memory_mb", memory, ">= 16 (MB)", path)
    target = dict(raw.get("target") or {})
    if set(target) - {"entity", "year", "code"}:
        _fail("unknown target key", f"{COLUMN}.target", sorted(target), "entity, year, code", path)
    if "code" in target and target["code"] not in fw.codes:
        _fail("target node is not in the framework", f"{COLUMN}.target.code", target["code"], "a node code", path)
    levels = raw.get("levels")
    rank_levels = raw.get("rank_levels")
    for key, lv in (("levels", levels), ("rank_levels", rank_levels)):
        if lv is not None and (not isinstance(lv, list) or any(not 1 <= int(v) <= fw.max_level for v in lv)):
            _fail("levels outside the hierarchy", f"{COLUMN}.{key}", lv, f"a list of levels 1..{fw.max_level}", path)
    return Spec(tuple(inputs), values["runs"], values["sobol_n"], values["seed"], values["nboot"], confidence,
                sampler, memory, target, None if levels is None else tuple(int(v) for v in levels),
                None if rank_levels is None else tuple(int(v) for v in rank_levels))


def _weight_noise(value: dict, column: str, max_level: int, path) -> list[Input]:
    """The weight-noise input(s) of ``weights: {noise: ε, levels: [...], separate_levels: …}``."""
    if "sets" in value:
        _fail(NO_SETS, f"{column}.sets", value["sets"], "no sets: key", path)
    noise = float(value.get("noise", 0.25))
    if not 0 < noise < 1:
        _fail("weight noise must be in (0, 1)", f"{column}.noise", noise, "e.g. 0.25 for ±25 %", path)
    levels = tuple(int(v) for v in value.get("levels", range(1, max_level)))
    bad = [v for v in levels if not 1 <= v < max_level]
    if bad or not levels:
        _fail("weight levels outside the hierarchy", f"{column}.levels", bad or levels,
              f"levels 1..{max_level - 1} (1 = indicators)", path)
    extra = sorted(set(value) - {"noise", "levels", "separate_levels"})
    if extra:
        _fail("unknown weight-noise option", column, extra, "noise, levels, separate_levels", path)
    groups = [(lvl,) for lvl in levels] if value.get("separate_levels") else [levels]
    return [Input("weights" if len(groups) == 1 else f"weights (level {group[0]})", "weights", "weight_noise",
                  noise=noise, levels=tuple(group)) for group in groups]


EXPERT_DRAWS = 64


def _from_experts(study: Study, value: dict, column: str, path) -> Input:
    """``weights: {from_experts: true, draws: K}``: the weights of expert-panel AHP drawn within the experts'
    range, a pool of K seeded draws (``ahp_panel`` with ``draw: 1..K``: per group a random mixture of the kept
    experts' priority vectors, so each weight lies between the lowest and highest an expert gives it); each
    replication takes one of the K (a factor of K values, not a continuous one as weight noise is).
    ``from_experts: true`` uses the study's own ahp_panel options (if its weights are ahp_panel), a mapping
    gives the ahp_panel options itself."""
    extra = sorted(set(value) - {"from_experts", "draws"})
    if extra:
        _fail("unknown from_experts option", column, extra, "from_experts, draws", path)
    options = value["from_experts"]
    if options is True:
        nominal = dict(study.methods["weights"])
        options = {k: v for k, v in nominal.items() if k != "method"} if nominal.get("method") == "ahp_panel" else {}
    if not isinstance(options, dict) or "draw" in options or "method" in options:
        _fail("from_experts is true or a mapping of ahp_panel options", f"{column}.from_experts",
              value["from_experts"], "true, or e.g. {priority: geometric_mean, aggregation: aip}", path)
    draws = value.get("draws", EXPERT_DRAWS)
    if not isinstance(draws, int) or isinstance(draws, bool) or draws < 2:
        _fail("draws must be a whole number >= 2", f"{column}.draws", draws, f"e.g. {EXPERT_DRAWS}", path)
    alternatives = tuple({"method": "ahp_panel", **options, "draw": k} for k in range(1, draws + 1))
    _check_alternative(study, "weights", alternatives[0], column, path)
    return Input("weights", "weights", "weight_method", alternatives=alternatives)


def split_with(alternative: dict) -> tuple[dict, dict]:
    """An aggregation alternative without its ``with:`` companions, and the companions (step -> spec)."""
    own = {k: v for k, v in alternative.items() if k != WITH}
    return own, dict(alternative.get(WITH) or {})


def _check_alternative(study: Study, step: str, alternative: dict, column: str, path) -> None:
    """Refuse an unknown method name in an alternative (and in its ``with:`` companions), reusing the
    study's own check."""
    own, companions = split_with(alternative) if step == "aggregation" else (alternative, {})
    if WITH in alternative and step != "aggregation":
        _fail("only aggregation alternatives take with:", f"{column}.{WITH}", alternative[WITH], "no with: key", path)
    for other in companions:
        if other in EVALUATION_STEPS or other == "rebase" or not isinstance(companions[other], dict) or \
                (other not in study.methods and other not in ("imputation", "outliers", "screening")):
            _fail("with: names data-side method steps", f"{column}.{WITH}", other,
                  "e.g. {normalisation: {method: chained_growth}}", path)
    methods = with_methods(study, {step: own, **companions}).methods
    try:
        check_method_names(methods, path)
    except InputError as error:
        raise InputError(error.problem, file=path, column=column, value=error.value,
                         expected=error.expected) from None
