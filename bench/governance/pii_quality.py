"""Benchmark: quality of the column-level PII classification (``dango_provider.core.pii``).

Run from the repository root:  python bench/governance/pii_quality.py [--rows N] [--sample N] [--seed N]

* generates a labelled synthetic table (seeded): one column per entity and format family (e-mails,
  international phones written several ways, Luhn-valid card numbers, mod-97-valid IBANs, US SSNs,
  IPv4/IPv6, full names, first names, cities, countries), some under neutral column names so that the
  values alone must carry the decision, and look-alikes that must not be flagged (order numbers, SKUs,
  ISO dates and timestamps, UUIDs, product names with and without sizes, free-text notes without PII,
  numeric ids, tracking numbers, EAN barcodes, epoch seconds, prices, status codes, country and
  currency codes, postal codes, versions, hashes);
* classifies every column from a sample of distinct values (``sample_distinct`` does the same in a
  DuckDB query after a load), once with the spaCy NER model and once with pattern recognizers only;
* prints a row per column (expected, found, evidence, share, score), column-level precision and
  recall per entity and overall, the false positives on look-alikes and the time taken.
Targets are printed, never asserted: recall >= 0.95 and precision >= 0.9 overall with NER, zero false
positives on look-alikes (pattern-only recall is reported over the entities it can detect).
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import string
import sys
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from dango_provider.core import pii  # noqa: E402

TARGET_RECALL = 0.95
TARGET_PRECISION = 0.9

FIRST_NAMES = """Maria John Wei Olga Ahmed Priya Lucas Emma Kenji Fatima Carlos Anna Mohammed Sofia James Yuki Ivan
Chloe Diego Aisha Liam Noah Olivia Hannah Mateo Zara Arjun Ines Tomasz Elena Kwame Mei Omar Lena Rafael Sara Daniel
Amara Jonas Nadia""".split()
LAST_NAMES = """Garcia Smith Chen Ivanova Hassan Patel Silva Johnson Tanaka Okafor Muller Rossi Nguyen Kowalski O'Brien
Schmidt Dubois Kim Jensen Novak Martinez Brown Williams Lopez Anderson Taylor Thomas Moore Martin Jackson White Harris
Clark Lewis Walker Young Allen Wright Scott Green""".split()
CITIES = """London|Paris|Berlin|Tokyo|Lagos|Mumbai|Toronto|Sydney|Madrid|Rome|Cairo|Nairobi|Chicago|Seattle|Boston
|Lisbon|Warsaw|Prague|Vienna|Dublin|Oslo|Stockholm|Helsinki|Athens|Istanbul|Dubai|Singapore|Bangkok|Seoul|Manila
|Jakarta|Lima|Bogota|Santiago|Mexico City|Buenos Aires|Cape Town|Accra|Hanoi|Munich|Hamburg|Lyon|Marseille|Milan
|Naples|Barcelona|Valencia|Porto|Zurich|Geneva|Amsterdam|Rotterdam|Brussels|Copenhagen|Montreal|Vancouver|Denver
|Austin|Miami|Delhi|Shanghai|Beijing|Osaka|Melbourne|Auckland|Johannesburg|Casablanca|Kyiv|Budapest|Bucharest
|San Francisco|Los Angeles|New York|Houston|Phoenix|Philadelphia|Atlanta|Edinburgh|Manchester|Birmingham
|Glasgow|Frankfurt|Cologne|Stuttgart|Krakow|Seville|Florence|Venice|Kolkata|Chennai|Karachi|Lahore|Dhaka|Riyadh
|Doha|Tehran|Baghdad|Havana|Quito|Caracas|Montevideo""".replace("\n", "").split("|")
COUNTRIES = """Germany|France|Japan|Brazil|Nigeria|India|Canada|Spain|Italy|Kenya|Mexico|Poland|Sweden|Norway|Egypt
|Argentina|Chile|Peru|Portugal|Greece|Turkey|Vietnam|Thailand|Indonesia|Australia|Ireland|Austria|Belgium
|Netherlands|Denmark|Finland|Hungary|Romania|Ukraine|Morocco|Ghana|Colombia|Pakistan|Bangladesh|China""".replace(
    "\n", "").split("|")
EMAIL_DOMAINS = ["gmail.com", "example.co.uk", "mail.de", "acme-corp.io", "outlook.com", "uni-hamburg.de",
                 "yahoo.fr", "company.com.br", "fastmail.fm", "proton.me"]
PHONE_REGIONS = ["US", "GB", "DE", "FR", "IN", "BR", "JP", "AU", "ES", "IT", "NG", "MX"]
PRODUCT_ITEMS = ["Green Tea", "Earl Grey Tea", "Oat Milk", "Dark Chocolate", "Espresso Beans", "Jasmine Rice",
                 "Olive Oil", "Maple Syrup", "Almond Butter", "Coconut Water", "Apple Juice", "Chamomile Tea",
                 "Peanut Butter", "Basmati Rice", "Orange Marmalade", "Greek Yogurt", "Sea Salt", "Black Pepper",
                 "Whole Wheat Pasta", "Honey Granola", "Cheddar Cheese", "Sparkling Water", "Dijon Mustard",
                 "Wild Salmon", "Sourdough Bread", "Cold Brew Coffee", "Vanilla Ice Cream", "Rolled Oats"]
PRODUCT_BRANDS = ["Harvest", "Golden Valley", "Nordic", "Bella", "Sunrise", "Alpine", "Meadow", "Clover", "Riverside",
                  "Summit"]
SIZES = ["100g", "250g", "500g", "1kg", "1L", "500ml", "6x330ml", "12 pack", "2 x 200g", "750ml"]
NOTE_TEMPLATES = [
    "Customer asked for gift wrapping", "Left parcel at the front door", "Box damaged on arrival, refund issued",
    "Deliver after 5pm please", "Second attempt failed, returned to depot", "Fragile: handle with care",
    "Replacement sent for missing item", "Discount code applied at checkout", "Express shipping upgrade",
    "Out of stock, backordered for two weeks", "Requested invoice with VAT", "Package too large for locker",
    "Loyalty points credited", "Wrong size ordered, exchange approved", "Ring the bell twice",
]
STATUSES = ["pending", "paid", "shipped", "delivered", "cancelled", "returned", "on_hold", "refunded"]
COUNTRY_CODES = ["US", "DE", "FR", "GB", "ES", "IT", "NL", "BR", "IN", "JP", "CN", "CA", "AU", "MX", "NG", "SE",
                 "PL", "PT", "IE", "AT", "BE", "CH", "DK", "NO", "FI"]
CURRENCIES = ["EUR", "USD", "GBP", "JPY", "BRL", "INR", "CHF", "SEK", "PLN", "AUD"]


# ------------------------------------------------------------------------------------------ generators


def luhn_complete(partial: str) -> str:
    """``partial`` + the Luhn check digit."""
    total = 0
    for i, ch in enumerate(reversed(partial)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return partial + str((10 - total % 10) % 10)


def ean13_complete(partial: str) -> str:
    """``partial`` (12 digits) + the EAN-13 check digit (weights 1 and 3, not Luhn)."""
    total = sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(partial))
    return partial + str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def credit_card(rng: random.Random) -> str:
    kind = rng.choice(["visa", "visa", "mc", "mc2", "amex", "discover"])
    if kind == "amex":
        number = luhn_complete(rng.choice(["34", "37"]) + "".join(rng.choices(string.digits, k=12)))
        return rng.choice([number, f"{number[:4]} {number[4:10]} {number[10:]}"])
    prefix = {"visa": "4", "mc": str(rng.randint(51, 55)), "mc2": str(rng.randint(2221, 2720)),
              "discover": "6011"}[kind]
    number = luhn_complete(prefix + "".join(rng.choices(string.digits, k=15 - len(prefix))))
    groups = [number[i : i + 4] for i in range(0, 16, 4)]
    return rng.choice([number, " ".join(groups), "-".join(groups)])


def iban_check_digits(country: str, bban: str) -> str:
    rearranged = bban + country + "00"
    numeric = "".join(str(int(c, 36)) for c in rearranged)
    return f"{98 - int(numeric) % 97:02d}"


def iban_valid(iban: str) -> bool:
    compact = iban.replace(" ", "")
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def iban(rng: random.Random) -> str:
    digits = lambda k: "".join(rng.choices(string.digits, k=k))  # noqa: E731
    letters = lambda k: "".join(rng.choices(string.ascii_uppercase, k=k))  # noqa: E731
    country, bban = rng.choice([
        ("DE", digits(18)),
        ("GB", letters(4) + digits(14)),
        ("NL", letters(4) + digits(10)),
        ("ES", digits(20)),
        ("FR", digits(23)),
        ("IT", letters(1) + digits(22)),
        ("BE", digits(12)),
        ("CH", digits(17)),
    ])
    compact = country + iban_check_digits(country, bban) + bban
    assert iban_valid(compact)
    return rng.choice([compact, " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))])


def ssn(rng: random.Random) -> str:
    area = rng.choice([a for a in range(1, 900) if a != 666])
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def phone(rng: random.Random) -> str:
    import phonenumbers as pn

    while True:
        region = rng.choice(PHONE_REGIONS)
        kind = rng.choice([pn.PhoneNumberType.MOBILE, pn.PhoneNumberType.FIXED_LINE])
        example = pn.example_number_for_type(region, kind)
        national = str(example.national_number)
        national = national[:-4] + "".join(rng.choices(string.digits, k=4))
        number = pn.parse(f"+{example.country_code}{national}")
        if not pn.is_valid_number(number):
            continue
        style = rng.choice([pn.PhoneNumberFormat.INTERNATIONAL, pn.PhoneNumberFormat.E164,
                            pn.PhoneNumberFormat.INTERNATIONAL, pn.PhoneNumberFormat.NATIONAL])
        if style == pn.PhoneNumberFormat.NATIONAL and region not in ("US", "GB", "DE", "FR"):
            style = pn.PhoneNumberFormat.INTERNATIONAL  # a national number is only a phone in a known region
        return pn.format_number(number, style)


def ip(rng: random.Random) -> str:
    if rng.random() < 0.7:
        return str(ipaddress.IPv4Address(rng.randint(0x0B000000, 0xDF000000)))
    return str(ipaddress.IPv6Address(rng.getrandbits(128) | (0x2001 << 112)))


def email(rng: random.Random) -> str:
    first, last = rng.choice(FIRST_NAMES).lower(), rng.choice(LAST_NAMES).lower().replace("'", "")
    local = rng.choice([f"{first}.{last}", f"{first[0]}{last}", f"{first}_{last}{rng.randint(1, 99)}",
                        f"{last}.{first}", f"{first}{rng.randint(1970, 2005)}"])
    return f"{local}@{rng.choice(EMAIL_DOMAINS)}"


def column(rng: random.Random, rows: int, make) -> list[str]:
    return [make(rng) for _ in range(rows)]


def dataset(seed: int, rows: int) -> list[tuple[str, str | None, list[str]]]:
    """(column name, expected entity or None, values), seeded."""
    rng = random.Random(seed)
    start = date(2023, 1, 1)
    full_name = lambda r: f"{r.choice(FIRST_NAMES)} {r.choice(LAST_NAMES)}"  # noqa: E731

    spec: list[tuple[str, str | None, object]] = [
        # PII under telling names
        ("customer_email", "EMAIL_ADDRESS", email),
        ("phone", "PHONE_NUMBER", phone),
        ("card_number", "CREDIT_CARD", credit_card),
        ("iban", "IBAN_CODE", iban),
        ("client_ip", "IP_ADDRESS", ip),
        ("ssn", "US_SSN", ssn),
        ("full_name", "PERSON", full_name),
        ("first_name", "PERSON", lambda r: r.choice(FIRST_NAMES)),
        ("city", "LOCATION", lambda r: r.choice(CITIES)),
        ("country", "LOCATION", lambda r: r.choice(COUNTRIES)),
        # PII under neutral names: the values must carry the decision
        ("reply_to", "EMAIL_ADDRESS", email),
        ("contact", "PHONE_NUMBER", phone),
        ("payment_ref", "CREDIT_CARD", credit_card),
        ("payout_account", "IBAN_CODE", iban),
        ("origin", "IP_ADDRESS", ip),
        ("tax_ref", "US_SSN", ssn),
        ("payer", "PERSON", full_name),
        ("destination", "LOCATION", lambda r: r.choice(CITIES)),
        # look-alikes
        ("order_number", None, lambda r: f"ORD-{r.randint(1, 999999):06d}"),
        ("sku", None, lambda r: f"SKU-{''.join(r.choices(string.ascii_uppercase, k=2))}-{r.randint(1000, 9999)}"),
        ("order_date", None, lambda r: (start + timedelta(days=r.randint(0, 700))).isoformat()),
        ("created_at", None, lambda r: (datetime(2024, 1, 1) + timedelta(seconds=r.randint(0, 3 * 10**7))).isoformat()
         + "Z"),
        ("event_id", None, lambda r: str(uuid.UUID(int=r.getrandbits(128), version=4))),
        ("product_name", None, lambda r: f"{r.choice(PRODUCT_BRANDS)} {r.choice(PRODUCT_ITEMS)} {r.choice(SIZES)}"),
        ("menu_item", None, lambda r: r.choice(PRODUCT_ITEMS)),
        ("notes", None, lambda r: r.choice(NOTE_TEMPLATES)),
        ("customer_id", None, lambda r: str(r.randint(100000, 99999999))),
        ("tracking_number", None, lambda r: str(r.randint(10**9, 10**12))),
        ("barcode", None, lambda r: ean13_complete(r.choice(["400", "401", "500", "760", "871", "300"])
                                                   + "".join(r.choices(string.digits, k=9)))),
        ("updated_epoch", None, lambda r: str(r.randint(1_600_000_000, 1_750_000_000))),
        ("amount", None, lambda r: f"{r.randint(1, 2000)}.{r.randint(0, 99):02d}"),
        ("status", None, lambda r: r.choice(STATUSES)),
        ("http_status", None, lambda r: r.choice(["200", "201", "204", "301", "400", "404", "500", "503"])),
        ("country_code", None, lambda r: r.choice(COUNTRY_CODES)),
        ("currency", None, lambda r: r.choice(CURRENCIES)),
        ("postal_code", None, lambda r: f"{r.randint(1000, 99999):05d}"),
        ("app_version", None, lambda r: f"{r.randint(1, 9)}.{r.randint(0, 20)}.{r.randint(0, 40)}"),
        ("checksum", None, lambda r: f"{r.getrandbits(128):032x}"),
        ("coordinates", None, lambda r: f"{r.uniform(-90, 90):.5f}, {r.uniform(-180, 180):.5f}"),
    ]
    return [(name, expected, column(rng, rows, make)) for name, expected, make in spec]


def distinct_sample(values: list[str], size: int, rng: random.Random) -> list[str]:
    distinct = list(dict.fromkeys(values))
    return distinct if len(distinct) <= size else rng.sample(distinct, size)


# ------------------------------------------------------------------------------------------ scoring


def evaluate(label: str, nlp_model: str | None, data, sample_size: int, seed: int) -> dict:
    t0 = time.perf_counter()
    analyzer, ner = pii.build_analyzer(nlp_model)
    t_build = time.perf_counter() - t0
    rng = random.Random(seed + 1)
    samples = {name: distinct_sample(values, sample_size, rng) for name, _, values in data}
    t1 = time.perf_counter()
    findings = {f.column: f for f in pii.scan_table(analyzer, samples, ner_available=ner)}
    t_scan = time.perf_counter() - t1
    # Margin on the columns left unflagged: the best-supported entity with every share threshold at zero.
    nearest = {}
    for name, _, _ in data:
        if name not in findings:
            near = pii.classify_column(analyzer, name, samples[name], ner_available=ner, min_share=0.0,
                                       person_min_share=0.0, name_min_share=0.0)
            nearest[name] = f"{near.entity} {near.share:.2f}" if near else "-"

    print(f"\n=== {label}: nlp_model={nlp_model!r}, NER available: {ner} ===")
    print(f"{'column':<16} {'expected':<14} {'found':<14} {'evidence':<12} {'share':>6} {'score':>6} {'n':>4}  "
          f"{'result':<6} nearest below threshold")
    for name, expected, _ in data:
        f = findings.get(name)
        found = f.entity if f else None
        mark = "ok" if found == expected else ("MISS" if found is None else ("FP" if expected is None else "WRONG"))
        print(f"{name:<16} {expected or '-':<14} {found or '-':<14} {(f.evidence if f else '-'):<12} "
              f"{(f'{f.share:.2f}' if f else '-'):>6} {(f'{f.score:.2f}' if f else '-'):>6} "
              f"{len(samples[name]):>4}  {mark:<6} {nearest.get(name, '')}")

    detectable = [e for e in pii.ENTITIES if ner or e not in pii.NER_ENTITIES]
    print(f"\n{'entity':<14} {'columns':>7} {'TP':>3} {'FP':>3} {'FN':>3} {'precision':>9} {'recall':>6}")
    for entity in pii.ENTITIES:
        tp = sum(1 for n, e, _ in data if e == entity and getattr(findings.get(n), "entity", None) == entity)
        fp = sum(1 for n, e, _ in data if e != entity and getattr(findings.get(n), "entity", None) == entity)
        fn = sum(1 for n, e, _ in data if e == entity) - tp
        prec = f"{tp / (tp + fp):.2f}" if tp + fp else "-"
        rec = f"{tp / (tp + fn):.2f}" if tp + fn else "-"
        note = "" if entity in detectable else "  (not detectable without NER)"
        print(f"{entity:<14} {tp + fn:>7} {tp:>3} {fp:>3} {fn:>3} {prec:>9} {rec:>6}{note}")

    pii_cols = [(n, e) for n, e, _ in data if e is not None]
    correct = sum(1 for n, e in pii_cols if getattr(findings.get(n), "entity", None) == e)
    precision = correct / len(findings) if findings else 1.0
    recall = correct / len(pii_cols)
    det_cols = [(n, e) for n, e in pii_cols if e in detectable]
    det_recall = sum(1 for n, e in det_cols if getattr(findings.get(n), "entity", None) == e) / len(det_cols)
    lookalike_fp = [n for n, e, _ in data if e is None and n in findings]
    n_values = sum(len(s) for s in samples.values())
    print(f"\noverall: {len(findings)} findings on {len(data)} columns ({len(pii_cols)} with PII, "
          f"{len(data) - len(pii_cols)} look-alikes)")
    print(f"precision {precision:.3f} (target >= {TARGET_PRECISION})   recall {recall:.3f} "
          f"(target >= {TARGET_RECALL}){'' if ner else f'   recall over detectable entities {det_recall:.3f}'}")
    print(f"false positives on look-alikes: {len(lookalike_fp)} {lookalike_fp if lookalike_fp else ''}(target 0)")
    print(f"time: build analyzer {t_build:.2f} s, classify {len(data)} columns / "
          f"{n_values} values {t_scan:.2f} s ({1000 * t_scan / max(n_values, 1):.2f} ms per value)")
    return {"precision": precision, "recall": recall, "detectable_recall": det_recall, "fp": lookalike_fp,
            "ner": ner}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--sample", type=int, default=100, help="distinct values sampled per column")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--nlp-model", default=pii.DEFAULT_NLP_MODEL)
    args = parser.parse_args(argv)

    data = dataset(args.seed, args.rows)
    assert all(luhn_valid(v) for _, e, vals in data if e == "CREDIT_CARD" for v in vals)
    assert all(iban_valid(v) for _, e, vals in data if e == "IBAN_CODE" for v in vals)
    print(f"dataset: {len(data)} columns x {args.rows} rows (seed {args.seed}), "
          f"samples of up to {args.sample} distinct values per column")
    with_ner = evaluate("with NER", args.nlp_model, data, args.sample, args.seed)
    patterns = evaluate("pattern recognizers only", None, data, args.sample, args.seed)

    print("\n=== summary ===")
    if not with_ner["ner"]:
        print(f"NER model {args.nlp_model!r} is not installed: the first run was pattern-only too")
    met = with_ner["recall"] >= TARGET_RECALL and with_ner["precision"] >= TARGET_PRECISION and not with_ner["fp"]
    print(f"with NER:     precision {with_ner['precision']:.3f}  recall {with_ner['recall']:.3f}  "
          f"look-alike FPs {len(with_ner['fp'])}  -> targets {'met' if met else 'NOT met'}")
    print(f"pattern-only: precision {patterns['precision']:.3f}  recall {patterns['recall']:.3f} "
          f"(over detectable entities {patterns['detectable_recall']:.3f})  look-alike FPs {len(patterns['fp'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
