"""Schema diff: every change kind with its sentence, type classification, policies, real DuckDB schemas."""

from __future__ import annotations

import json

import duckdb
import pytest

from dango_provider.core.schema_diff import (
    COLUMNS_QUERY,
    ColumnSpec,
    Decision,
    SchemaChange,
    TableSchema,
    classify_type_change,
    decide,
    diff_schemas,
    has_breaking,
    normalize_type,
    schemas_from_dict,
    schemas_from_information_schema,
    schemas_to_dict,
    summarize,
)


def table(name: str, **columns: str | tuple[str, bool]) -> TableSchema:
    specs = {c: ColumnSpec(*t) if isinstance(t, tuple) else ColumnSpec(t) for c, t in columns.items()}
    return TableSchema(name, specs)


def one(baseline: TableSchema, current: TableSchema) -> SchemaChange:
    changes = diff_schemas({baseline.name: baseline}, {current.name: current})
    assert len(changes) == 1, changes
    return changes[0]


# --------------------------------------------------------------------------- normalisation


@pytest.mark.parametrize(
    ("spelled", "canonical"),
    [
        ("bigint", "BIGINT"),
        ("  Integer ", "INTEGER"),
        ("int", "INTEGER"),
        ("int8", "BIGINT"),
        ("decimal( 18 , 2 )", "DECIMAL(18,2)"),
        ("numeric(10, 2)", "DECIMAL(10,2)"),
        ("decimal", "DECIMAL(18,3)"),
        ("varchar(20)", "VARCHAR(20)"),
        ("text", "VARCHAR"),
        ("timestamp   with  time zone", "TIMESTAMP WITH TIME ZONE"),
        ("timestamptz", "TIMESTAMP WITH TIME ZONE"),
        ("double precision", "DOUBLE"),
        ("real", "FLOAT"),
        ("int[]", "INTEGER[]"),
        ("MAP(VARCHAR,INTEGER)", "MAP(VARCHAR, INTEGER)"),
        ("enum('a','B')", "ENUM('a', 'B')"),
        ('struct("Mixed Case" varchar)', 'STRUCT("Mixed Case" VARCHAR)'),
    ],
)
def test_normalize_type(spelled, canonical):
    assert normalize_type(spelled) == canonical
    assert normalize_type(canonical) == canonical


def test_normalize_type_rejects_empty():
    with pytest.raises(ValueError, match="data type '' is invalid: expected a DuckDB type name such as 'BIGINT'"):
        normalize_type("")


def test_normalize_type_keeps_duckdb_spelling_of_real_columns():
    con = duckdb.connect()
    con.execute(
        "create table t (a bigint, b decimal(18,2), c timestamptz, d map(varchar, integer), "
        "e struct(x integer, \"y z\" varchar), f integer[], g enum('a', 'b'), h time with time zone)"
    )
    for (data_type,) in con.execute("select data_type from information_schema.columns where table_name = 't'").fetchall():
        assert normalize_type(data_type) == data_type


# --------------------------------------------------------------------------- each kind, exact sentences


def test_table_added_and_removed():
    orders = table("orders", id=("BIGINT", False), amount="DECIMAL(18,2)", _dlt_id="VARCHAR")
    customers = table("customers", id="BIGINT")

    changes = diff_schemas({"orders": orders}, {"customers": customers})

    assert changes == [
        SchemaChange("customers", None, "table_added", None, "id BIGINT", "additive",
                     "Table 'customers' was added with 1 column(s): id BIGINT."),
        SchemaChange("orders", None, "table_removed", "id BIGINT NOT NULL, amount DECIMAL(18,2)", None, "breaking",
                     "Table 'orders' was removed (it had 2 column(s): id BIGINT NOT NULL, amount DECIMAL(18,2)); "
                     "models that select from it will fail."),
    ]


def test_column_added():
    change = one(table("orders", id="BIGINT"), table("orders", id="BIGINT", email=("VARCHAR", False)))

    assert change == SchemaChange("orders", "email", "column_added", None, "VARCHAR NOT NULL", "additive",
                                  "Column 'orders.email' was added as VARCHAR NOT NULL.")


def test_column_removed():
    change = one(table("orders", id="BIGINT", email="VARCHAR"), table("orders", id="BIGINT"))

    assert change == SchemaChange("orders", "email", "column_removed", "VARCHAR", None, "breaking",
                                  "Column 'orders.email' (VARCHAR) was removed; models that select it will fail.")


def test_rename_is_remove_plus_add_with_hint():
    changes = diff_schemas(
        {"orders": table("orders", id="BIGINT", email="VARCHAR", total="DOUBLE")},
        {"orders": table("orders", id="BIGINT", email_address="VARCHAR", total_eur="DECIMAL(18,2)")},
    )

    assert [(c.column, c.kind, c.change_class) for c in changes] == [
        ("email", "column_removed", "breaking"),
        ("email_address", "column_added", "additive"),
        ("total", "column_removed", "breaking"),
        ("total_eur", "column_added", "additive"),
    ]
    assert changes[0].detail == (
        "Column 'orders.email' (VARCHAR) was removed; models that select it will fail; "
        "possibly renamed to 'email_address', added with the same type."
    )
    assert changes[1].detail == (
        "Column 'orders.email_address' was added as VARCHAR; possibly renamed from 'email', removed with the same type."
    )
    # different types: no hint
    assert changes[2].detail == "Column 'orders.total' (DOUBLE) was removed; models that select it will fail."
    assert changes[3].detail == "Column 'orders.total_eur' was added as DECIMAL(18,2)."


def test_rename_hint_lists_every_candidate():
    changes = diff_schemas(
        {"t": table("t", a="VARCHAR", b="VARCHAR")},
        {"t": table("t", c="VARCHAR")},
    )

    assert changes[2].detail == (
        "Column 't.c' was added as VARCHAR; possibly renamed from 'a' or 'b', removed with the same type."
    )


@pytest.mark.parametrize(
    ("old", "new", "kind", "change_class", "reason"),
    [
        ("INTEGER", "BIGINT", "type_widened", "additive", "every INTEGER value fits in BIGINT without loss"),
        ("SMALLINT", "INTEGER", "type_widened", "additive", "every SMALLINT value fits in INTEGER without loss"),
        ("TINYINT", "HUGEINT", "type_widened", "additive", "every TINYINT value fits in HUGEINT without loss"),
        ("FLOAT", "DOUBLE", "type_widened", "additive", "every FLOAT value fits in DOUBLE without loss"),
        ("INTEGER", "DOUBLE", "type_widened", "additive", "every INTEGER value fits in DOUBLE without loss"),
        ("SMALLINT", "DOUBLE", "type_widened", "additive", "every SMALLINT value fits in DOUBLE without loss"),
        ("BIGINT", "DOUBLE", "type_narrowed", "breaking",
         "DOUBLE represents integers exactly only up to 2^53, so larger BIGINT values would be rounded"),
        ("DECIMAL(10,2)", "DECIMAL(12,3)", "type_widened", "additive",
         "every DECIMAL(10,2) value fits in DECIMAL(12,3) without loss"),
        ("DECIMAL(10,2)", "DECIMAL(12,1)", "type_narrowed", "breaking",
         "the digits after the point drop from 2 to 1, so values would be rounded"),
        ("DECIMAL(10,2)", "DECIMAL(10,3)", "type_narrowed", "breaking",
         "DECIMAL(10,3) holds 7 digits before the point where DECIMAL(10,2) holds 8 digits before the point, "
         "so some values would not fit"),
        ("VARCHAR(20)", "VARCHAR", "type_widened", "additive", "the length limit is removed"),
        ("VARCHAR(20)", "VARCHAR(50)", "type_widened", "additive", "the length limit grows from 20 to 50"),
        ("VARCHAR", "VARCHAR(20)", "type_narrowed", "breaking", "strings longer than 20 characters would no longer fit"),
        ("DATE", "TIMESTAMP", "type_widened", "additive", "every DATE value converts to TIMESTAMP without loss"),
        ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "type_widened", "additive",
         "every TIMESTAMP value converts to TIMESTAMP WITH TIME ZONE without loss"),
        ("BIGINT", "INTEGER", "type_narrowed", "breaking",
         "INTEGER holds -2,147,483,648 to 2,147,483,647 where BIGINT holds -9,223,372,036,854,775,808 to "
         "9,223,372,036,854,775,807, so some values would not fit"),
        ("DOUBLE", "BIGINT", "type_narrowed", "breaking",
         "DOUBLE values are approximate and may have fractions or magnitudes that BIGINT cannot hold exactly"),
        ("TIMESTAMP", "DATE", "type_narrowed", "breaking", "the time of day would be lost"),
        ("TIMESTAMP WITH TIME ZONE", "TIMESTAMP", "type_narrowed", "breaking",
         "values would become local times of the session time zone and no longer denote one instant"),
        ("VARCHAR", "BIGINT", "type_changed", "breaking", "text that is not a valid BIGINT value cannot be converted"),
        ("BIGINT", "VARCHAR", "type_changed", "breaking",
         "the values survive as text, but sorting, comparison and arithmetic on the column now follow text rules, "
         "so downstream models may change meaning or fail"),
        ("BOOLEAN", "INTEGER", "type_changed", "breaking",
         "BOOLEAN and INTEGER are different kinds of data, so existing values may not convert and downstream models "
         "may fail"),
        ("INTEGER[]", "BIGINT[]", "type_widened", "additive",
         "for the list elements, every INTEGER value fits in BIGINT without loss"),
    ],
)
def test_type_changes(old, new, kind, change_class, reason):
    change = one(table("orders", amount=old), table("orders", amount=new))

    assert (change.kind, change.change_class, change.old, change.new) == (kind, change_class, old, new)
    assert change.detail == f"Column 'orders.amount' changed type from {old} to {new}: {reason}."


@pytest.mark.parametrize(
    ("old", "new", "kind"),
    [
        ("INTEGER", "DECIMAL(10,0)", "type_widened"),
        ("INTEGER", "DECIMAL(9,0)", "type_narrowed"),
        ("DECIMAL(9,0)", "INTEGER", "type_widened"),
        ("DECIMAL(18,2)", "DOUBLE", "type_narrowed"),
        ("UINTEGER", "BIGINT", "type_widened"),
        ("INTEGER", "UINTEGER", "type_narrowed"),
        ("INTEGER", "FLOAT", "type_narrowed"),
        ("SMALLINT", "FLOAT", "type_widened"),
        ("DOUBLE", "FLOAT", "type_narrowed"),
        ("DATE", "TIMESTAMP WITH TIME ZONE", "type_widened"),
        ("TIMESTAMP_NS", "TIMESTAMP", "type_narrowed"),
        ("TIMESTAMP", "TIMESTAMP_NS", "type_narrowed"),
        ("TIMESTAMP", "TIME", "type_narrowed"),
        ("TIME", "TIMESTAMP", "type_changed"),
        ("VARCHAR", "JSON", "type_changed"),
        ("JSON", "VARCHAR", "type_changed"),
        ("UUID", "VARCHAR", "type_changed"),
    ],
)
def test_classify_type_change_edges(old, new, kind):
    assert classify_type_change(old, new).kind == kind


def test_spelling_differences_are_not_changes():
    assert diff_schemas({"t": table("t", a="decimal(18, 2)", b="int")}, {"t": table("t", a="DECIMAL(18,2)", b="INTEGER")}) == []


def test_nullability_tightened_and_relaxed():
    changes = diff_schemas(
        {"orders": table("orders", id="BIGINT", note=("VARCHAR", False))},
        {"orders": table("orders", id=("BIGINT", False), note="VARCHAR")},
    )

    assert changes == [
        SchemaChange("orders", "id", "nullability_tightened", "NULL", "NOT NULL", "breaking",
                     "Column 'orders.id' is now NOT NULL: rows without a value in it would be rejected."),
        SchemaChange("orders", "note", "nullability_relaxed", "NOT NULL", "NULL", "additive",
                     "Column 'orders.note' now allows NULL: downstream models may see missing values in it."),
    ]


def test_type_and_nullability_change_together_are_two_changes():
    changes = diff_schemas({"t": table("t", a="INTEGER")}, {"t": table("t", a=("BIGINT", False))})

    assert [c.kind for c in changes] == ["nullability_tightened", "type_widened"]


def test_ignore_columns_and_dlt_tables():
    baseline = {"orders": table("orders", id="BIGINT", _dlt_load_id="VARCHAR", _dlt_id="VARCHAR", _dango_file="VARCHAR")}
    current = {
        "orders": table("orders", id="BIGINT", _dlt_load_id="BIGINT", _dlt_parent_id="VARCHAR"),
        "_dlt_loads": table("_dlt_loads", load_id="VARCHAR"),
    }

    assert [(c.column, c.kind) for c in diff_schemas(baseline, current)] == [("_dlt_parent_id", "column_added")]
    assert diff_schemas(baseline, current, ignore_columns=("_dlt_load_id", "_dlt_id", "_dango_file", "_dlt_parent_id")) == []
    assert [(c.column, c.kind) for c in diff_schemas(baseline, current, ignore_columns=())] == [
        ("_dango_file", "column_removed"), ("_dlt_id", "column_removed"), ("_dlt_load_id", "type_changed"),
        ("_dlt_parent_id", "column_added"),
    ]
    assert [(c.table, c.kind) for c in diff_schemas(baseline, current, ignore_tables=())] == [
        ("_dlt_loads", "table_added"), ("orders", "column_added"),
    ]


def test_order_is_deterministic():
    baseline = {"b": table("b", z="INTEGER", a="INTEGER"), "a": table("a", x="INTEGER")}
    current = {"a": table("a", x="BIGINT", w="VARCHAR"), "b": table("b", a="BIGINT", z=("INTEGER", False)), "c": table("c")}

    changes = diff_schemas(baseline, current)

    assert [(c.table, c.column, c.kind) for c in changes] == [
        ("a", "w", "column_added"),
        ("a", "x", "type_widened"),
        ("b", "a", "type_widened"),
        ("b", "z", "nullability_tightened"),
        ("c", None, "table_added"),
    ]
    assert diff_schemas(dict(reversed(baseline.items())), dict(reversed(current.items()))) == changes


def test_summarize_and_has_breaking():
    changes = diff_schemas(
        {"t": table("t", a="INTEGER", b="VARCHAR")},
        {"t": table("t", a="BIGINT", c="DATE")},
    )

    assert summarize(changes) == {"additive": 2, "breaking": 1, "total": 3}
    assert has_breaking(changes)
    assert summarize([]) == {"additive": 0, "breaking": 0, "total": 0}
    assert not has_breaking([c for c in changes if c.change_class == "additive"])


# --------------------------------------------------------------------------- real DuckDB


def read_schemas(con: duckdb.DuckDBPyConnection, schema: str = "raw_shop") -> dict[str, TableSchema]:
    return schemas_from_information_schema(con.execute(COLUMNS_QUERY, [schema]).fetchall())


def test_information_schema_round_trip_on_a_real_duckdb_file(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema raw_shop")
        con.execute(
            "create table raw_shop.orders (id integer not null, customer varchar, amount decimal(10,2), "
            "placed_at timestamp, note varchar, status varchar, _dlt_load_id varchar, _dlt_id varchar)"
        )
        con.execute("create table raw_shop.refunds (id bigint)")
        con.execute("create table main.elsewhere (id bigint)")  # another schema: not read
        con.execute("insert into raw_shop.orders values (1, 'ann', 9.99, '2024-01-01 10:00', null, 'x', 'l1', 'd1')")
    with duckdb.connect(str(path), read_only=True) as con:
        baseline = read_schemas(con)

    assert baseline == {
        "orders": TableSchema("orders", {
            "id": ColumnSpec("INTEGER", False), "customer": ColumnSpec("VARCHAR"), "amount": ColumnSpec("DECIMAL(10,2)"),
            "placed_at": ColumnSpec("TIMESTAMP"), "note": ColumnSpec("VARCHAR"), "status": ColumnSpec("VARCHAR"),
            "_dlt_load_id": ColumnSpec("VARCHAR"), "_dlt_id": ColumnSpec("VARCHAR"),
        }),
        "refunds": TableSchema("refunds", {"id": ColumnSpec("BIGINT")}),
    }
    assert list(baseline["orders"].columns) == ["id", "customer", "amount", "placed_at", "note", "status",
                                                 "_dlt_load_id", "_dlt_id"]

    with duckdb.connect(str(path)) as con:
        con.execute("alter table raw_shop.orders add column email varchar")
        con.execute("alter table raw_shop.orders alter column id type bigint")
        con.execute("alter table raw_shop.orders alter column amount type decimal(12,1)")
        con.execute("alter table raw_shop.orders alter column placed_at type date")
        con.execute("alter table raw_shop.orders drop column note")
        con.execute("alter table raw_shop.orders alter column customer set not null")
        con.execute("alter table raw_shop.orders rename column status to state")
        con.execute("alter table raw_shop.orders alter column _dlt_id type bigint using 1")
        con.execute("drop table raw_shop.refunds")
        con.execute("create table raw_shop.customers (id bigint, name varchar)")
    with duckdb.connect(str(path), read_only=True) as con:
        current = read_schemas(con)

    changes = diff_schemas(baseline, current)

    assert [(c.table, c.column, c.kind, c.old, c.new, c.change_class) for c in changes] == [
        ("customers", None, "table_added", None, "id BIGINT, name VARCHAR", "additive"),
        ("orders", "amount", "type_narrowed", "DECIMAL(10,2)", "DECIMAL(12,1)", "breaking"),
        ("orders", "customer", "nullability_tightened", "NULL", "NOT NULL", "breaking"),
        ("orders", "email", "column_added", None, "VARCHAR", "additive"),
        ("orders", "id", "type_widened", "INTEGER", "BIGINT", "additive"),
        ("orders", "note", "column_removed", "VARCHAR", None, "breaking"),
        ("orders", "placed_at", "type_narrowed", "TIMESTAMP", "DATE", "breaking"),
        ("orders", "state", "column_added", None, "VARCHAR", "additive"),
        ("orders", "status", "column_removed", "VARCHAR", None, "breaking"),
        ("refunds", None, "table_removed", "id BIGINT", None, "breaking"),
    ]
    by_column = {c.column: c for c in changes}
    assert by_column["state"].detail == (
        "Column 'orders.state' was added as VARCHAR; possibly renamed from 'note' or 'status', removed with the same type."
    )
    assert by_column["status"].detail == (
        "Column 'orders.status' (VARCHAR) was removed; models that select it will fail; "
        "possibly renamed to 'email' or 'state', added with the same type."
    )
    assert summarize(changes) == {"additive": 4, "breaking": 6, "total": 10}

    # the accepted schema, stored as the new baseline, shows no drift
    assert diff_schemas(schemas_from_dict(json.loads(json.dumps(schemas_to_dict(current)))), current) == []


def test_schemas_from_information_schema_accepts_booleans_and_rejects_bad_rows():
    schemas = schemas_from_information_schema([("t", "a", "bigint", True), ("t", "b", "varchar", "NO")])

    assert schemas == {"t": TableSchema("t", {"a": ColumnSpec("BIGINT"), "b": ColumnSpec("VARCHAR", False)})}
    with pytest.raises(ValueError, match=r"information_schema row 1 \('t', 'b', 'INT', 'maybe'\) is invalid: "
                                         r"is_nullable 'maybe' is invalid: expected 'YES' or 'NO'"):
        schemas_from_information_schema([("t", "a", "INT", "YES"), ("t", "b", "INT", "maybe")])


# --------------------------------------------------------------------------- JSON baselines


def test_json_round_trip():
    schemas = {
        "orders": table("orders", id=("BIGINT", False), amount="DECIMAL(18,2)", at="TIMESTAMP WITH TIME ZONE"),
        "empty": TableSchema("empty", {}),
    }

    stored = json.dumps(schemas_to_dict(schemas), sort_keys=True)
    assert schemas_from_dict(json.loads(stored)) == schemas
    assert json.loads(stored) == {
        "format": 1,
        "tables": {
            "empty": {"columns": {}},
            "orders": {"columns": {
                "id": {"data_type": "BIGINT", "nullable": False},
                "amount": {"data_type": "DECIMAL(18,2)", "nullable": True},
                "at": {"data_type": "TIMESTAMP WITH TIME ZONE", "nullable": True},
            }},
        },
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"tables": {}}, "baseline.format must be 1, got None"),
        ({"format": 1, "tables": []}, "baseline.tables must be a mapping of table name to table, got list"),
        ({"format": 1, "tables": {"t": {}}}, "baseline.tables.t.columns must be a mapping of column name to column"),
        ({"format": 1, "tables": {"t": {"columns": {"a": {"data_type": 3}}}}},
         "baseline.tables.t.columns.a.data_type must be a string such as 'BIGINT'"),
        ({"format": 1, "tables": {"t": {"columns": {"a": {"data_type": "INT", "nullable": "yes"}}}}},
         "baseline.tables.t.columns.a.nullable must be true or false, got 'yes'"),
    ],
)
def test_schemas_from_dict_names_the_bad_field(data, message):
    with pytest.raises(ValueError) as info:
        schemas_from_dict(data)
    assert str(info.value) == message


# --------------------------------------------------------------------------- policy


CHANGES = diff_schemas(
    {"t": table("t", a="INTEGER", b="VARCHAR")},
    {"t": table("t", a="BIGINT", b="VARCHAR", c="DATE", d="BIGINT")},
) + diff_schemas({"u": table("u", a="BIGINT")}, {"u": table("u", a="INTEGER")})
ADDITIVE = tuple(c for c in CHANGES if c.change_class == "additive")
BREAKING = tuple(c for c in CHANGES if c.change_class == "breaking")


def test_policy_fixture_has_both_classes():
    assert len(ADDITIVE) == 3 and len(BREAKING) == 1


@pytest.mark.parametrize("on_additive", ["evolve", "warn", "block"])
@pytest.mark.parametrize("on_breaking", ["evolve", "warn", "block"])
def test_decide_every_policy_combination(on_additive, on_breaking):
    decision = decide(CHANGES, on_additive=on_additive, on_breaking=on_breaking)

    expected = {"evolve": (), "warn": (), "block": ()}
    expected[on_additive] += ADDITIVE
    expected[on_breaking] += BREAKING
    assert isinstance(decision, Decision)
    assert decision.actions == tuple((c, on_additive if c in ADDITIVE else on_breaking) for c in CHANGES)
    assert set(decision.evolved) == set(expected["evolve"])
    assert set(decision.warned) == set(expected["warn"])
    assert set(decision.blocking) == set(expected["block"])
    assert decision.blocked == ("block" in (on_additive, on_breaking))


def test_decide_on_no_changes_never_blocks():
    decision = decide([], on_additive="block", on_breaking="block")

    assert decision == Decision((), False, (), (), ())


def test_decide_rejects_unknown_policy():
    with pytest.raises(ValueError, match="on_breaking 'stop' is invalid: use one of 'evolve', 'warn', 'block'"):
        decide(CHANGES, on_additive="evolve", on_breaking="stop")
