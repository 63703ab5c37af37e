"""Which dbt nodes a transform leaves out while a source has never loaded (pure, on manifest shapes)."""

from __future__ import annotations

from dango_provider.core.transform_scope import feeds, left_out, not_selected


def node(name: str, path: str, *parents: str) -> dict:
    kind = "seed" if path.startswith("seeds/") else "test" if path.endswith(".yml") else "model"
    return {"name": name, "original_file_path": path, "depends_on": {"nodes": list(parents)}, "resource_type": kind}


MANIFEST = {
    "sources": {"source.p.raw_shop.orders": {"source_name": "raw_shop"},
                "source.p.raw_crm.accounts": {"source_name": "raw_crm"}},
    "nodes": {
        "model.p.stg_shop__orders": node("stg_shop__orders", "models/staging/shop/stg_shop__orders.sql",
                                         "source.p.raw_shop.orders"),
        "model.p.stg_crm__accounts": node("stg_crm__accounts", "models/staging/crm/stg_crm__accounts.sql",
                                          "source.p.raw_crm.accounts"),
        "model.p.orders_by_day": node("orders_by_day", "models/marts/orders_by_day.sql", "model.p.stg_shop__orders"),
        "model.p.accounts_orders": node("accounts_orders", "models/marts/accounts_orders.sql",
                                        "model.p.orders_by_day", "model.p.stg_crm__accounts"),
        "model.p.raw_direct": node("raw_direct", "models/marts/raw_direct.sql", "source.p.raw_crm.accounts"),
        "seed.p.countries": node("countries", "seeds/countries.csv"),
        "test.p.not_null_accounts": node("not_null_accounts", "models/marts/x.yml", "model.p.accounts_orders"),
    },
}


def test_nodes_downstream_of_a_source_that_never_loaded_are_left_out():
    assert left_out(MANIFEST, ["crm"]) == {
        "accounts_orders": ["crm"], "not_null_accounts": ["crm"], "raw_direct": ["crm"], "stg_crm__accounts": ["crm"],
    }


def test_a_run_scoped_to_a_source_leaves_out_what_depends_on_none_of_it():
    assert not_selected(MANIFEST, ["shop"]) == ["countries", "raw_direct", "stg_crm__accounts"]
    assert not_selected(MANIFEST, ["crm"]) == ["countries", "orders_by_day", "stg_shop__orders"]
    assert not_selected(MANIFEST, ["shop", "crm"]) == ["countries"]
    assert len(not_selected(MANIFEST, [])) == len(MANIFEST["nodes"])


def test_every_source_ready_leaves_out_nothing():
    assert left_out(MANIFEST, []) == {}
    assert left_out({}, ["crm"]) == {}


def test_a_node_names_every_source_it_waits_for():
    assert left_out(MANIFEST, ["crm", "shop"])["accounts_orders"] == ["crm", "shop"]


def test_references_to_models_a_never_loaded_source_has_not_generated_block_parsing(tmp_path):
    from dango_provider.core.transform_scope import unparseable_references

    (tmp_path / "models" / "marts").mkdir(parents=True)
    (tmp_path / "models" / "marts" / "a.sql").write_text("select * from {{ ref('stg_crm__accounts') }}\n")
    (tmp_path / "models" / "marts" / "b.sql").write_text("select * from {{ source('raw_crm', 'accounts') }}\n")
    (tmp_path / "models" / "marts" / "c.sql").write_text("select * from {{ ref('stg_shop__orders') }}\n")

    assert unparseable_references(tmp_path, ["crm"]) == {
        "models/marts/a.sql": ["stg_crm__accounts"], "models/marts/b.sql": ["raw_crm"]}
    staging = tmp_path / "models" / "staging" / "crm"  # generated once (a warehouse rebuilt since): parses
    staging.mkdir(parents=True)
    (staging / "stg_crm__accounts.sql").write_text("select 1\n")
    (staging / "_crm__sources.yml").write_text("version: 2\n")
    assert unparseable_references(tmp_path, ["crm"]) == {}


def test_stand_ins_for_references_to_a_never_loaded_source(tmp_path):
    from dango_provider.core.staging import RawTable, write_staging
    from dango_provider.core.transform_scope import is_placeholder, unparseable_references, write_placeholders

    marts = tmp_path / "models" / "marts"
    marts.mkdir(parents=True)
    (marts / "a.sql").write_text("select * from {{ ref('stg_crm__accounts') }}\n")
    (marts / "b.sql").write_text("select * from {{ source('raw_crm', 'deals') }}\n")

    written = write_placeholders(tmp_path, ["crm"])
    staging = tmp_path / "models" / "staging" / "crm"
    assert sorted(p.name for p in written) == ["_crm__sources.yml", "stg_crm__accounts.sql"]
    assert all(is_placeholder(p) for p in written)
    assert "      - name: deals\n" in (staging / "_crm__sources.yml").read_text()
    assert unparseable_references(tmp_path, ["crm"]) == {}
    assert write_placeholders(tmp_path, ["crm"]) == []  # unchanged: nothing rewritten

    # the first load replaces them: its generated files, no stand-in left
    write_staging(tmp_path, "crm", [RawTable(source="crm", table="contacts", columns=[("id", "bigint")],
                                             primary_key=["id"])])
    assert sorted(p.name for p in staging.iterdir()) == [
        "_crm__sources.yml", "stg_crm__contacts.sql", "stg_crm__contacts.yml"]
    assert not any(is_placeholder(p) for p in staging.iterdir())


def test_a_sources_lineage_is_every_model_built_from_it_beyond_its_staging():
    manifest = {**MANIFEST, "nodes": {**MANIFEST["nodes"], "model.p.int_orders": node(
        "int_orders", "models/intermediate/int_orders.sql", "model.p.stg_shop__orders")}}
    assert feeds(manifest, ["shop", "crm", "never"]) == {
        "shop": ["accounts_orders", "orders_by_day", "int_orders"],  # marts first; tests and staging left out
        "crm": ["accounts_orders", "raw_direct"],
        "never": [],
    }
    assert feeds({}, ["shop"]) == {"shop": []}
