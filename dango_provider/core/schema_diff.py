"""Compare a raw table schema with its accepted baseline and classify every change.

A change is *additive* when every existing value and every existing query keeps working (a new
table or column, a widened type, a relaxed NOT NULL) and *breaking* otherwise. A rename is seen as
a removed column plus an added one; when both share a type, their details say it may be a rename.

Data types are spelled as DuckDB's ``information_schema.columns.data_type`` spells them; case,
spacing and common aliases are normalised (``int`` -> ``INTEGER``, ``numeric(10, 2)`` ->
``DECIMAL(10,2)``). Pure code: no Airflow, dlt or Cosmos imports.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

ChangeClass = Literal["additive", "breaking"]
Policy = Literal["evolve", "warn", "block"]

ADDITIVE: ChangeClass = "additive"
BREAKING: ChangeClass = "breaking"
POLICIES: tuple[str, ...] = ("evolve", "warn", "block")
KINDS: dict[str, ChangeClass] = {
    "table_added": ADDITIVE,
    "table_removed": BREAKING,
    "column_added": ADDITIVE,
    "column_removed": BREAKING,
    "type_widened": ADDITIVE,
    "type_narrowed": BREAKING,
    "type_changed": BREAKING,
    "nullability_tightened": BREAKING,
    "nullability_relaxed": ADDITIVE,
}
DEFAULT_IGNORE_COLUMNS = ("_dlt_load_id", "_dlt_id", "_dango_file")
# dlt's own bookkeeping tables change with dlt versions, not with the source.
DEFAULT_IGNORE_TABLES = ("_dlt_loads", "_dlt_pipeline_state", "_dlt_version")
BASELINE_FORMAT = 1

# Rows for schemas_from_information_schema(); one parameter: the schema (e.g. 'raw_shop').
COLUMNS_QUERY = (
    "select table_name, column_name, data_type, is_nullable from information_schema.columns "
    "where table_catalog = current_database() and table_schema = ? order by table_name, ordinal_position"
)


# --------------------------------------------------------------------------- data types

_TOKEN = re.compile(r'"(?:[^"]|"")*"|\'(?:[^\']|\'\')*\'|[A-Za-z0-9_]+|\s+|.')
_SIMPLE = re.compile(r"(?P<base>[A-Z][A-Z0-9_]*(?: [A-Z][A-Z0-9_]*)*)(?:\((?P<params>\d+(?:,\d+)?)\))?(?P<array>(?:\[\d*\])*)")
_ALIASES = {
    "INT": "INTEGER", "INT4": "INTEGER", "SIGNED": "INTEGER", "INT8": "BIGINT", "LONG": "BIGINT",
    "INT2": "SMALLINT", "SHORT": "SMALLINT", "INT1": "TINYINT", "INT128": "HUGEINT",
    "REAL": "FLOAT", "FLOAT4": "FLOAT", "FLOAT8": "DOUBLE", "DOUBLE PRECISION": "DOUBLE",
    "NUMERIC": "DECIMAL", "VARINT": "BIGNUM", "BOOL": "BOOLEAN", "LOGICAL": "BOOLEAN",
    "STRING": "VARCHAR", "TEXT": "VARCHAR", "CHAR": "VARCHAR", "BPCHAR": "VARCHAR", "NVARCHAR": "VARCHAR",
    "CHARACTER VARYING": "VARCHAR", "CHARACTER": "VARCHAR",
    "DATETIME": "TIMESTAMP", "TIMESTAMP_US": "TIMESTAMP", "TIMESTAMP WITHOUT TIME ZONE": "TIMESTAMP",
    "TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE", "TIMETZ": "TIME WITH TIME ZONE",
    "BYTEA": "BLOB", "BINARY": "BLOB", "VARBINARY": "BLOB",
}


def normalize_type(data_type: str) -> str:
    """Canonical spelling of a DuckDB data type: upper case, single spaces, DuckDB's names.

    Quoted parts and struct field names keep their case. Aliases are resolved for the type itself
    and list elements, not inside STRUCT or MAP. DuckDB's own spelling is
    unchanged: ``DECIMAL(18,2)``, ``MAP(VARCHAR, INTEGER)``, ``TIMESTAMP WITH TIME ZONE``.
    """
    if not isinstance(data_type, str) or not data_type.strip():
        raise ValueError(f"data type {data_type!r} is invalid: expected a DuckDB type name such as 'BIGINT'")
    tokens: list[tuple[str, bool]] = []  # (token, whitespace before it)
    spaced = False
    nesting: list[bool] = []  # per open parenthesis: does it list named fields (STRUCT, UNION)?
    previous = ""
    for token in _TOKEN.findall(data_type.strip()):
        if token.isspace():
            spaced = True
            continue
        if token == "(":
            nesting.append(previous.upper() in ("STRUCT", "UNION", "ROW"))
        elif token == ")" and nesting:
            nesting.pop()
        field_name = bool(nesting) and nesting[-1] and previous in ("(", ",")
        tokens.append((token if field_name or token[0] in "\"'" else token.upper(), spaced))
        spaced, previous = False, token
    text = ""
    previous = ""
    for token, space_before in tokens:
        if not previous or token in ",)]" or previous in "([" or token in "([":
            gap = ""
        elif previous == ",":
            gap = "" if token.isdigit() else " "
        else:
            gap = " " if space_before else ""
        text += gap + token
        previous = token
    simple = _SIMPLE.fullmatch(text)
    if not simple:
        return text
    base, params, array = simple["base"], simple["params"], simple["array"]
    base = _ALIASES.get(base, base)
    if base == "DECIMAL":
        precision, _, scale = (params or "18,3").partition(",")
        params = f"{precision},{scale or 0}"
    return base + (f"({params})" if params else "") + array


@dataclass(frozen=True)
class TypeChange:
    """How a data type change is classified, with the reason as a clause for the detail sentence."""

    kind: str
    change_class: ChangeClass
    reason: str


_INT_RANGES = {
    "TINYINT": (-(2**7), 2**7 - 1), "SMALLINT": (-(2**15), 2**15 - 1), "INTEGER": (-(2**31), 2**31 - 1),
    "BIGINT": (-(2**63), 2**63 - 1), "HUGEINT": (-(2**127), 2**127 - 1),
    "UTINYINT": (0, 2**8 - 1), "USMALLINT": (0, 2**16 - 1), "UINTEGER": (0, 2**32 - 1),
    "UBIGINT": (0, 2**64 - 1), "UHUGEINT": (0, 2**128 - 1),
}
_FLOAT_BITS = {"FLOAT": 24, "DOUBLE": 53}  # mantissa bits: integers are exact up to 2**bits
_TEMPORAL = ("DATE", "TIME", "TIME WITH TIME ZONE", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP", "TIMESTAMP_NS",
             "TIMESTAMP WITH TIME ZONE")
_TIMESTAMP_DIGITS = {"TIMESTAMP_S": 0, "TIMESTAMP_MS": 3, "TIMESTAMP": 6, "TIMESTAMP WITH TIME ZONE": 6, "TIMESTAMP_NS": 9}
_TEMPORAL_WIDENINGS = frozenset(
    [("DATE", t) for t in ("TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE")]
    + [("TIMESTAMP_S", t) for t in ("TIMESTAMP_MS", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE")]
    + [("TIMESTAMP_MS", t) for t in ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE")]
    + [("TIMESTAMP", "TIMESTAMP WITH TIME ZONE"), ("TIME", "TIME WITH TIME ZONE")]
)


@dataclass(frozen=True)
class _Numeric:
    """A numeric type as what it can hold: the range of its whole part (None: unbounded), the digits
    after the point (decimals) or the mantissa bits (FLOAT, DOUBLE: integers are exact up to 2**bits)."""

    name: str
    lo: int | None = None
    hi: int | None = None
    scale: int = 0
    float_bits: int | None = None


def _numeric(data_type: str) -> _Numeric | None:
    if data_type in _INT_RANGES:
        return _Numeric(data_type, *_INT_RANGES[data_type])
    if data_type == "BIGNUM":
        return _Numeric(data_type)
    if data_type in _FLOAT_BITS:
        return _Numeric(data_type, float_bits=_FLOAT_BITS[data_type])
    match = re.fullmatch(r"DECIMAL\((\d+),(\d+)\)", data_type)
    if match:
        precision, scale = int(match[1]), int(match[2])
        bound = 10 ** (precision - scale) - 1
        return _Numeric(data_type, -bound, bound, scale=scale)
    return None


def _holds(number: _Numeric) -> str:
    if number.name.startswith("DECIMAL"):
        digits = len(str(number.hi)) if number.hi else 0
        return f"{digits} digit{'' if digits == 1 else 's'} before the point"
    return f"{number.lo:,} to {number.hi:,}"


def _numeric_change(old: _Numeric, new: _Numeric) -> TypeChange:
    widened = TypeChange("type_widened", ADDITIVE, f"every {old.name} value fits in {new.name} without loss")
    if old.float_bits is not None:  # FLOAT, DOUBLE
        if new.float_bits is not None and new.float_bits >= old.float_bits:
            return widened
        if new.float_bits is not None:
            return TypeChange("type_narrowed", BREAKING, f"{new.name} keeps fewer significant digits than "
                                                         f"{old.name}, so values would be rounded")
        return TypeChange("type_narrowed", BREAKING, f"{old.name} values are approximate and may have fractions "
                                                     f"or magnitudes that {new.name} cannot hold exactly")
    if old.lo is None or old.hi is None:  # BIGNUM
        return TypeChange("type_narrowed", BREAKING, f"{new.name} cannot hold every {old.name} value")
    if new.float_bits is not None:
        if old.scale:
            return TypeChange("type_narrowed", BREAKING, f"{new.name} stores binary approximations, "
                                                         f"so exact {old.name} values would be rounded")
        if max(-old.lo, old.hi) <= 2**new.float_bits:
            return widened
        return TypeChange("type_narrowed", BREAKING, f"{new.name} represents integers exactly only up to "
                                                     f"2^{new.float_bits}, so larger {old.name} values would be rounded")
    problems = []
    if new.scale < old.scale:
        problems.append(f"the digits after the point drop from {old.scale} to {new.scale}, so values would be rounded")
    if new.lo is not None and new.hi is not None and (old.lo < new.lo or old.hi > new.hi):
        problems.append(f"{new.name} holds {_holds(new)} where {old.name} holds {_holds(old)}, "
                        "so some values would not fit")
    if not problems:
        return widened
    return TypeChange("type_narrowed", BREAKING, "; ".join(problems))


def _varchar_length(data_type: str) -> int | None | Literal[False]:
    """Length limit of a VARCHAR (None: unlimited); False when the type is not a VARCHAR."""
    if data_type == "VARCHAR":
        return None
    match = re.fullmatch(r"VARCHAR\((\d+)\)", data_type)
    return int(match[1]) if match else False


def _temporal_change(old: str, new: str) -> TypeChange:
    if (old, new) in _TEMPORAL_WIDENINGS:
        return TypeChange("type_widened", ADDITIVE, f"every {old} value converts to {new} without loss")
    dated = ("DATE", *_TIMESTAMP_DIGITS)
    if old.startswith("TIME") and old not in _TIMESTAMP_DIGITS and new in dated:
        return TypeChange("type_changed", BREAKING, f"{old} values have no date, so they cannot become {new} values")
    if new == "DATE":
        reason = "the time of day would be lost"
    elif new.startswith("TIME") and new not in _TIMESTAMP_DIGITS:
        reason = "the date would be lost" if old in dated else "the time zone offset would be lost"
    elif new == "TIMESTAMP_NS":
        reason = "TIMESTAMP_NS only covers the years 1677 to 2262, so earlier or later values would not fit"
    elif old == "TIMESTAMP WITH TIME ZONE" and _TIMESTAMP_DIGITS[new] <= 6:
        reason = ("values would become local times of the session time zone and no longer denote one instant"
                  + ("" if _TIMESTAMP_DIGITS[new] == 6 else ", and sub-second precision would be lost"))
    else:
        reason = f"{new} keeps fewer fractional-second digits than {old}, so precision would be lost"
    return TypeChange("type_narrowed", BREAKING, reason)


def classify_type_change(old: str, new: str) -> TypeChange:
    """Classify a change of data type from ``old`` to ``new`` (both normalised first).

    Widened (additive) only when every value of ``old`` converts to ``new`` without loss and keeps
    its meaning. Lossy changes inside one family (numbers, text lengths, dates and times) are
    narrowed; changes across families, including any type to VARCHAR, are changed (both breaking).
    """
    old, new = normalize_type(old), normalize_type(new)
    if old == new:
        raise ValueError(f"data types {old} and {new} are the same; there is no change to classify")
    old_list, new_list = re.fullmatch(r"(.+)\[\]", old), re.fullmatch(r"(.+)\[\]", new)
    if old_list and new_list:
        inner = classify_type_change(old_list[1], new_list[1])
        return TypeChange(inner.kind, inner.change_class, f"for the list elements, {inner.reason}")
    old_number, new_number = _numeric(old), _numeric(new)
    if old_number and new_number:
        return _numeric_change(old_number, new_number)
    old_length, new_length = _varchar_length(old), _varchar_length(new)
    if old_length is not False and new_length is not False:
        if new_length is None:
            return TypeChange("type_widened", ADDITIVE, "the length limit is removed")
        if old_length is not None and new_length >= old_length:
            return TypeChange("type_widened", ADDITIVE, f"the length limit grows from {old_length} to {new_length}")
        return TypeChange("type_narrowed", BREAKING, f"strings longer than {new_length} characters would no longer fit")
    if new_length is not False:
        return TypeChange("type_changed", BREAKING, "the values survive as text, but sorting, comparison and "
                          "arithmetic on the column now follow text rules, so downstream models may change meaning or fail")
    if old in _TEMPORAL and new in _TEMPORAL:
        return _temporal_change(old, new)
    if old_length is not False:
        return TypeChange("type_changed", BREAKING, f"text that is not a valid {new} value cannot be converted")
    return TypeChange("type_changed", BREAKING, f"{old} and {new} are different kinds of data, so existing values "
                      "may not convert and downstream models may fail")


# --------------------------------------------------------------------------- schemas


@dataclass(frozen=True)
class ColumnSpec:
    data_type: str
    nullable: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_type", normalize_type(self.data_type))
        if not isinstance(self.nullable, bool):
            raise ValueError(f"nullable must be true or false, got {self.nullable!r}")

    def describe(self) -> str:
        return self.data_type + ("" if self.nullable else " NOT NULL")


@dataclass(frozen=True)
class TableSchema:
    name: str
    columns: dict[str, ColumnSpec] = field(default_factory=dict)


def _nullable(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().upper()
    if text in ("YES", "Y", "TRUE", "1"):
        return True
    if text in ("NO", "N", "FALSE", "0"):
        return False
    raise ValueError(f"is_nullable {value!r} is invalid: expected 'YES' or 'NO'")


def schemas_from_information_schema(rows: Iterable[tuple[str, str, str, Any]]) -> dict[str, TableSchema]:
    """Build ``{table: TableSchema}`` from ``(table_name, column_name, data_type, is_nullable)`` rows.

    Rows come from :data:`COLUMNS_QUERY`; column order is kept as the rows give it.
    """
    tables: dict[str, dict[str, ColumnSpec]] = {}
    for index, row in enumerate(rows):
        try:
            table, column, data_type, is_nullable = row
            tables.setdefault(table, {})[column] = ColumnSpec(data_type, _nullable(is_nullable))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"information_schema row {index} {row!r} is invalid: {exc}") from exc
    return {name: TableSchema(name, columns) for name, columns in tables.items()}


def schemas_to_dict(schemas: Mapping[str, TableSchema]) -> dict[str, Any]:
    """JSON-able form of schemas, as stored for a baseline."""
    return {
        "format": BASELINE_FORMAT,
        "tables": {
            name: {"columns": {c: {"data_type": s.data_type, "nullable": s.nullable} for c, s in table.columns.items()}}
            for name, table in sorted(schemas.items())
        },
    }


def schemas_from_dict(data: Mapping[str, Any]) -> dict[str, TableSchema]:
    """Inverse of :func:`schemas_to_dict`; errors name the path of the bad field."""
    if not isinstance(data, Mapping) or data.get("format") != BASELINE_FORMAT:
        found = data.get("format") if isinstance(data, Mapping) else type(data).__name__
        raise ValueError(f"baseline.format must be {BASELINE_FORMAT}, got {found!r}")
    tables = data.get("tables")
    if not isinstance(tables, Mapping):
        raise ValueError(f"baseline.tables must be a mapping of table name to table, got {type(tables).__name__}")
    schemas = {}
    for name, table in tables.items():
        columns = table.get("columns") if isinstance(table, Mapping) else None
        if not isinstance(columns, Mapping):
            raise ValueError(f"baseline.tables.{name}.columns must be a mapping of column name to column")
        specs = {}
        for column, spec in columns.items():
            path = f"baseline.tables.{name}.columns.{column}"
            if not isinstance(spec, Mapping) or not isinstance(spec.get("data_type"), str):
                raise ValueError(f"{path}.data_type must be a string such as 'BIGINT'")
            if not isinstance(spec.get("nullable", True), bool):
                raise ValueError(f"{path}.nullable must be true or false, got {spec.get('nullable')!r}")
            try:
                specs[column] = ColumnSpec(spec["data_type"], spec.get("nullable", True))
            except ValueError as exc:
                raise ValueError(f"{path}: {exc}") from exc
        schemas[name] = TableSchema(name, specs)
    return schemas


# --------------------------------------------------------------------------- diff


@dataclass(frozen=True)
class SchemaChange:
    table: str
    column: str | None
    kind: str
    old: str | None
    new: str | None
    change_class: ChangeClass
    detail: str

    @property
    def sort_key(self) -> tuple[str, str, str]:
        return (self.table, self.column or "", self.kind)


def _change(table: str, column: str | None, kind: str, old: str | None, new: str | None, detail: str) -> SchemaChange:
    return SchemaChange(table, column, kind, old, new, KINDS[kind], detail)


def _column_list(columns: Mapping[str, ColumnSpec]) -> str:
    return ", ".join(f"{name} {spec.describe()}" for name, spec in columns.items()) or "none"


def _or_list(names: list[str]) -> str:
    quoted = [f"'{n}'" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _diff_table(table: str, old: Mapping[str, ColumnSpec], new: Mapping[str, ColumnSpec]) -> list[SchemaChange]:
    changes = []
    removed = {c: s for c, s in old.items() if c not in new}
    added = {c: s for c, s in new.items() if c not in old}
    for column, spec in removed.items():
        detail = f"Column '{table}.{column}' ({spec.data_type}) was removed; models that select it will fail."
        twins = sorted(c for c, s in added.items() if s.data_type == spec.data_type)
        if twins:
            detail = detail[:-1] + f"; possibly renamed to {_or_list(twins)}, added with the same type."
        changes.append(_change(table, column, "column_removed", spec.describe(), None, detail))
    for column, spec in added.items():
        detail = f"Column '{table}.{column}' was added as {spec.describe()}."
        twins = sorted(c for c, s in removed.items() if s.data_type == spec.data_type)
        if twins:
            detail = detail[:-1] + f"; possibly renamed from {_or_list(twins)}, removed with the same type."
        changes.append(_change(table, column, "column_added", None, spec.describe(), detail))
    for column in old.keys() & new.keys():
        before, after = old[column], new[column]
        if before.data_type != after.data_type:
            verdict = classify_type_change(before.data_type, after.data_type)
            changes.append(_change(table, column, verdict.kind, before.data_type, after.data_type,
                                   f"Column '{table}.{column}' changed type from {before.data_type} to "
                                   f"{after.data_type}: {verdict.reason}."))
        if before.nullable and not after.nullable:
            changes.append(_change(table, column, "nullability_tightened", "NULL", "NOT NULL",
                                   f"Column '{table}.{column}' is now NOT NULL: rows without a value in it "
                                   "would be rejected."))
        elif after.nullable and not before.nullable:
            changes.append(_change(table, column, "nullability_relaxed", "NOT NULL", "NULL",
                                   f"Column '{table}.{column}' now allows NULL: downstream models may see "
                                   "missing values in it."))
    return changes


def diff_schemas(
    baseline: Mapping[str, TableSchema],
    current: Mapping[str, TableSchema],
    *,
    ignore_columns: Iterable[str] = DEFAULT_IGNORE_COLUMNS,
    ignore_tables: Iterable[str] = DEFAULT_IGNORE_TABLES,
) -> list[SchemaChange]:
    """Every change from ``baseline`` to ``current``, ordered by (table, column, kind).

    Names match exactly. Columns in ``ignore_columns`` and tables in ``ignore_tables`` (the
    loader's bookkeeping) are left out of the comparison.
    """
    skip_columns, skip_tables = frozenset(ignore_columns), frozenset(ignore_tables)

    def columns(schemas: Mapping[str, TableSchema], table: str) -> dict[str, ColumnSpec]:
        return {c: s for c, s in schemas[table].columns.items() if c not in skip_columns}

    changes: list[SchemaChange] = []
    for table in sorted((baseline.keys() | current.keys()) - skip_tables):
        if table not in current:
            old = columns(baseline, table)
            changes.append(_change(table, None, "table_removed", _column_list(old), None,
                                   f"Table '{table}' was removed (it had {len(old)} column(s): {_column_list(old)}); "
                                   "models that select from it will fail."))
        elif table not in baseline:
            new = columns(current, table)
            changes.append(_change(table, None, "table_added", None, _column_list(new),
                                   f"Table '{table}' was added with {len(new)} column(s): {_column_list(new)}."))
        else:
            changes.extend(_diff_table(table, columns(baseline, table), columns(current, table)))
    return sorted(changes, key=lambda c: c.sort_key)


def summarize(changes: Iterable[SchemaChange]) -> dict[str, int]:
    """Counts per change class: ``{"additive": a, "breaking": b, "total": a + b}``."""
    counts: dict[str, int] = {ADDITIVE: 0, BREAKING: 0}
    for change in changes:
        counts[change.change_class] += 1
    return {**counts, "total": counts[ADDITIVE] + counts[BREAKING]}


def has_breaking(changes: Iterable[SchemaChange]) -> bool:
    return any(change.change_class == BREAKING for change in changes)


# --------------------------------------------------------------------------- policy


@dataclass(frozen=True)
class Decision:
    """What a policy does with each change. The caller accepts evolved and warned changes into the
    baseline and logs the warned ones; one blocking change blocks the whole load (``blocked``)."""

    actions: tuple[tuple[SchemaChange, Policy], ...]
    blocked: bool
    evolved: tuple[SchemaChange, ...]
    warned: tuple[SchemaChange, ...]
    blocking: tuple[SchemaChange, ...]


def decide(changes: Iterable[SchemaChange], on_additive: Policy = "evolve", on_breaking: Policy = "block") -> Decision:
    """Apply ``on_additive`` / ``on_breaking`` (each 'evolve', 'warn' or 'block') to every change."""
    for name, value in (("on_additive", on_additive), ("on_breaking", on_breaking)):
        if value not in POLICIES:
            raise ValueError(f"{name} '{value}' is invalid: use one of 'evolve', 'warn', 'block'")
    actions = tuple((c, on_additive if c.change_class == ADDITIVE else on_breaking) for c in changes)
    picked = {policy: tuple(c for c, action in actions if action == policy) for policy in POLICIES}
    return Decision(actions, bool(picked["block"]), picked["evolve"], picked["warn"], picked["block"])
