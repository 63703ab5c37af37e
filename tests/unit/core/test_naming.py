"""Identifiers: validation of user names, snake_case of hostile column names, quoting for DuckDB."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from dango_provider.core.naming import (
    RESERVED,
    Naming,
    quote_identifier,
    quote_literal,
    snake_case,
    validate_identifier,
)

RULE = (
    "is invalid: use lower-case letters, digits and underscores, starting with a letter, "
    "at most 63 characters (for example 'shop_orders')"
)
HOSTILE = [
    "Order ID",
    "customer name",
    'say "hi"',
    "it's",
    '"; drop table x; --',
    "'); delete from y; --",
    "1st_column",
    "2024",
    "select",
    "Order",
    "",
    "   ",
    '"""',
    "über größe",
    "日本",
    "a\nb",
    "x" * 80,
]
SAFE = re.compile(r"^[a-z_][a-z0-9_]*$")


@pytest.mark.parametrize("name", ["orders", "shop_orders", "o", "orders_2024", "a" * 63, "select_data", "order_"])
def test_validate_identifier_accepts_safe_names(name):
    assert validate_identifier(name, "source name") == name


@pytest.mark.parametrize(
    "name",
    ["Orders", "my-orders", "my orders", "1orders", "_orders", "", "a" * 64, '"orders"', "o'rders", "shop/orders",
     "shop.orders", "orders;", "ördér", "\norders"],
)
def test_validate_identifier_rejects_unsafe_names(name):
    with pytest.raises(ValueError) as info:
        validate_identifier(name, "source name")
    assert str(info.value) == f"source name '{name}' {RULE}"


@pytest.mark.parametrize("name", ["orders\n", "shop_orders\n"])
def test_validate_identifier_rejects_trailing_newline(name):
    with pytest.raises(ValueError) as info:
        validate_identifier(name, "source name")
    assert str(info.value) == f"source name '{name}' {RULE}"


@pytest.mark.parametrize("word", ["select", "from", "table", "order", "group", "union", "where", "pivot", "qualify"])
def test_validate_identifier_rejects_reserved_words(word):
    with pytest.raises(ValueError) as info:
        validate_identifier(word, "table name")
    assert str(info.value) == (
        f"table name '{word}' is a reserved SQL word; choose another name (for example '{word}_data')"
    )


@pytest.mark.parametrize("value", [None, 5, ["orders"]])
def test_validate_identifier_rejects_non_strings(value):
    with pytest.raises(ValueError, match=re.escape(f"source name '{value}' {RULE}")):
        validate_identifier(value, "source name")


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Order ID", "order_id"),
        ("customer name", "customer_name"),
        ("customerName", "customer_name"),
        ("unitPrice2", "unit_price2"),
        ('say "hi"', "say_hi"),
        ("it's", "it_s"),
        ('"; drop table x; --', "drop_table_x"),
        ("'); delete from y; --", "delete_from_y"),
        ("1st_column", "c_1st_column"),
        ("2024", "c_2024"),
        ("select", "select_"),
        ("Order", "order_"),
        ("FROM", "from_"),
        ("  padded  ", "padded"),
        ("__private__", "private"),
        ("already_snake", "already_snake"),
    ],
)
def test_snake_case(raw, expected):
    assert snake_case(raw) == expected


@pytest.mark.parametrize("raw", HOSTILE)
def test_snake_case_always_gives_a_safe_bare_identifier(raw):
    name = snake_case(raw)

    assert SAFE.match(name), name
    assert name not in RESERVED
    # it is usable unquoted in DuckDB
    assert duckdb.sql(f"select 1 as {name}").columns == [name]


@pytest.mark.parametrize("raw", [name for name in HOSTILE if name] + ['a"b', '""', 'x""y'])
def test_quote_identifier_round_trips_through_duckdb(raw):
    quoted = quote_identifier(raw)

    assert quoted.startswith('"') and quoted.endswith('"')
    assert quoted[1:-1].replace('""', "").count('"') == 0
    assert duckdb.sql(f"select 1 as {quoted}").columns == [raw]


def test_quote_identifier_escapes_embedded_quotes():
    assert quote_identifier('a"b') == '"a""b"'
    assert quote_identifier('"; drop table x; --') == '"""; drop table x; --"'


def test_quote_literal_escapes_single_quotes():
    hostile = "'); drop table x; --"
    assert quote_literal("it's") == "'it''s'"
    assert duckdb.sql(f"select {quote_literal(hostile)} as v").fetchone() == (hostile,)


def test_naming_owns_derived_names():
    assert Naming.ingest_dag_id("orders") == "dango_ingest__orders"
    assert Naming.raw_schema("orders") == "raw_orders"
    assert Naming.pipeline_name("orders") == "dango_orders"
    assert Naming.staging_model("shop", "orders") == "stg_shop__orders"
    assert Naming.staging_dir(Path("/p/dbt"), "shop") == Path("/p/dbt/models/staging/shop")
    assert Naming.raw_asset_uri("orders") == "dango://raw/orders"
    assert Naming.lock_path(Path("/p/data/warehouse.duckdb")) == Path("/p/data/warehouse.duckdb.lock")
    assert Naming.state_dir(Path("/p")) == Path("/p/.dango/state")
    assert Naming.manifest_path(Path("/p/dbt")) == Path("/p/dbt/target/manifest.json")
