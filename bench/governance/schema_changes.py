"""Catalogue: real DuckDB schema changes, classified by ``dango_provider.core.schema_diff``.

Run from the repository root:  python bench/governance/schema_changes.py [--details]

Each case gets its own schema in one temp DuckDB file: the "before" tables are created and given a
row of data, ``information_schema.columns`` is read (the baseline), the change is applied for real
(ALTER TABLE, CREATE OR REPLACE TABLE, DROP TABLE; the data is converted by DuckDB), the schema is
read again and diffed. A case is OK when the (kind, class) pairs found equal the expected ones.
Prints one row per case and the total; exits 1 when a case is misclassified. ``--details`` also
prints the sentences of every change.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from dango_provider.core.schema_diff import (  # noqa: E402
    COLUMNS_QUERY,
    diff_schemas,
    schemas_from_information_schema,
    summarize,
)

A, B = "additive", "breaking"


@dataclass(frozen=True)
class Case:
    name: str
    before: tuple[str, ...]  # statements run in the case's schema before the baseline is read
    change: tuple[str, ...]  # statements that make the change
    expected: tuple[tuple[str, str], ...]  # (kind, class) of every change, in diff order


def _t(columns: str, row: str) -> tuple[str, ...]:
    return (f"create table t ({columns})", f"insert into t values ({row})")


CASES = [
    Case("add a nullable column", _t("id integer", "1"), ("alter table t add column email varchar",),
         (("column_added", A),)),
    Case("drop a column", _t("id integer, email varchar", "1, 'a@b'"), ("alter table t drop column email",),
         (("column_removed", B),)),
    Case("rename a column (seen as drop + add)", _t("id integer, email varchar", "1, 'a@b'"),
         ("alter table t rename column email to email_address",), (("column_removed", B), ("column_added", A))),
    Case("INTEGER -> BIGINT", _t("n integer", "1"), ("alter table t alter column n type bigint",),
         (("type_widened", A),)),
    Case("SMALLINT -> INTEGER", _t("n smallint", "1"), ("alter table t alter column n type integer",),
         (("type_widened", A),)),
    Case("TINYINT -> HUGEINT", _t("n tinyint", "1"), ("alter table t alter column n type hugeint",),
         (("type_widened", A),)),
    Case("FLOAT -> DOUBLE", _t("x float", "1.5"), ("alter table t alter column x type double",),
         (("type_widened", A),)),
    Case("INTEGER -> DOUBLE", _t("n integer", "1"), ("alter table t alter column n type double",),
         (("type_widened", A),)),
    Case("BIGINT -> DOUBLE (above 2^53)", _t("n bigint", "9007199254740993"), ("alter table t alter column n type double",),
         (("type_narrowed", B),)),
    Case("BIGINT -> INTEGER", _t("n bigint", "1"), ("alter table t alter column n type integer",),
         (("type_narrowed", B),)),
    Case("DOUBLE -> BIGINT", _t("x double", "1.5"), ("alter table t alter column x type bigint",),
         (("type_narrowed", B),)),
    Case("DECIMAL(10,2) -> DECIMAL(12,2)", _t("m decimal(10,2)", "9.99"), ("alter table t alter column m type decimal(12,2)",),
         (("type_widened", A),)),
    Case("DECIMAL(10,2) -> DECIMAL(12,1) (scale cut)", _t("m decimal(10,2)", "9.99"),
         ("alter table t alter column m type decimal(12,1)",), (("type_narrowed", B),)),
    Case("DATE -> TIMESTAMP", _t("d date", "'2024-01-31'"), ("alter table t alter column d type timestamp",),
         (("type_widened", A),)),
    Case("TIMESTAMP -> TIMESTAMP WITH TIME ZONE", _t("ts timestamp", "'2024-01-31 10:00'"),
         ("alter table t alter column ts type timestamptz",), (("type_widened", A),)),
    Case("TIMESTAMP -> DATE", _t("ts timestamp", "'2024-01-31 10:00'"), ("alter table t alter column ts type date",),
         (("type_narrowed", B),)),
    Case("BIGINT -> VARCHAR", _t("n bigint", "10"), ("alter table t alter column n type varchar",),
         (("type_changed", B),)),
    Case("VARCHAR -> BIGINT (USING try_cast)", _t("s varchar", "'10'"),
         ("alter table t alter column s type bigint using try_cast(s as bigint)",), (("type_changed", B),)),
    Case("BOOLEAN -> INTEGER", _t("f boolean", "true"), ("alter table t alter column f type integer",),
         (("type_changed", B),)),
    Case("SET NOT NULL", _t("id integer", "1"), ("alter table t alter column id set not null",),
         (("nullability_tightened", B),)),
    Case("DROP NOT NULL", _t("id integer not null", "1"), ("alter table t alter column id drop not null",),
         (("nullability_relaxed", A),)),
    Case("CREATE OR REPLACE: id widened, column added", _t("id integer, amount decimal(18,2)", "1, 9.99"),
         ("create or replace table t as select id::bigint as id, amount, 'EUR' as currency from t",),
         (("column_added", A), ("type_widened", A))),
    Case("CREATE OR REPLACE: NOT NULL key, amount as DOUBLE", _t("id integer, amount decimal(18,2)", "1, 9.99"),
         ("create or replace table t (id integer not null, amount double)", "insert into t values (1, 9.99)"),
         (("type_narrowed", B), ("nullability_tightened", B))),
    Case("new table", _t("id integer", "1"), ("create table u (id bigint)",), (("table_added", A),)),
    Case("dropped table", (*_t("id integer", "1"), "create table u (id bigint)"), ("drop table u",),
         (("table_removed", B),)),
    Case("dlt columns only (ignored)", _t("id integer, _dlt_load_id varchar, _dlt_id varchar", "1, 'l', 'd'"),
         ("alter table t alter column _dlt_load_id type double using 1", "alter table t drop column _dlt_id"), ()),
    Case("VARCHAR(20) -> VARCHAR(50) (DuckDB keeps no length)", _t("s varchar(20)", "'x'"),
         ("alter table t alter column s type varchar(50)",), ()),
]


def _read(con: duckdb.DuckDBPyConnection, schema: str):
    return schemas_from_information_schema(con.execute(COLUMNS_QUERY, [schema]).fetchall())


def _label(pairs) -> str:
    return " + ".join(f"{kind} ({cls})" for kind, cls in pairs) or "no change"


def run(details: bool) -> int:
    started = time.perf_counter()
    rows, ok_count, totals = [], 0, {"additive": 0, "breaking": 0, "total": 0}
    with tempfile.TemporaryDirectory(prefix="dango_schema_changes_") as tmp:
        with duckdb.connect(str(Path(tmp) / "warehouse.duckdb")) as con:
            for number, case in enumerate(CASES, 1):
                schema = f"case_{number:02d}"
                con.execute(f"create schema {schema}")
                con.execute(f"set schema = '{schema}'")
                for statement in case.before:
                    con.execute(statement)
                baseline = _read(con, schema)
                for statement in case.change:
                    con.execute(statement)
                changes = diff_schemas(baseline, _read(con, schema))
                got = tuple((c.kind, c.change_class) for c in changes)
                ok = got == case.expected
                ok_count += ok
                for key, value in summarize(changes).items():
                    totals[key] += value
                rows.append((f"{number:2d}. {case.name}", _label(case.expected), _label(got), "OK" if ok else "WRONG",
                             changes))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    header = ("change", "expected", "got")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)) + "  OK")
    print("  ".join("-" * w for w in widths) + "  --")
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths)) + f"  {row[3]}")
        if details or row[3] != "OK":
            for change in row[4]:
                print(f"      {change.detail}")
    print(f"\n{ok_count}/{len(CASES)} classified correctly "
          f"({totals['total']} changes: {totals['additive']} additive, {totals['breaking']} breaking; "
          f"{time.perf_counter() - started:.2f} s, duckdb {duckdb.__version__})")
    return 0 if ok_count == len(CASES) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--details", action="store_true", help="print the detail sentence of every change")
    return run(parser.parse_args(argv).details)


if __name__ == "__main__":
    sys.exit(main())
