"""The Metabase set-up against the Metabase stand-in (``tests/servers/metabase.py``) and real DuckDB files.

First run: admin created through the setup token, one DuckDB database added for the serving copy,
dlt's and dango_meta's tables hidden, sync and rescan requested. Second run: only log in, sync and
rescan. A new publish or a changed path updates the database's details, and Metabase then lists the
new copy's tables. Health checks back off; every failure names step, endpoint and status, never the
password.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from dango_provider.exceptions import DangoError
from dango_provider.metabase.client import MetabaseClient
from dango_provider.metabase.provision import refresh_metabase
from dango_provider.metabase.settings import MetabaseSettings
from tests.servers.metabase import MetabaseProcess
from tests.unit.metabase.conftest import (
    EMAIL,
    INTERNAL,
    PASSWORD,
    VISIBLE,
    build_warehouse,
    make_settings,
    publish_warehouse,
)


def calls(requests: list[dict]) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in requests]


def tables_by_name(state: dict) -> dict[tuple[str, str], dict]:
    return {(t["schema"], t["name"]): t for t in state["tables"]}


def test_first_run_creates_the_admin_the_database_and_hides_internal_tables(metabase, serving):
    report = refresh_metabase(make_settings(metabase.url), serving)

    assert report["admin"] == "created" and report["metabase_version"] == "v0.63.10"
    assert report["database"]["action"] == "created"
    assert sorted(report["hidden"]) == sorted(f"{s}.{t}" for s, t in INTERNAL)
    assert report["tables"] == len(VISIBLE | INTERNAL)
    state = metabase.state()
    assert state["users"] == [EMAIL] and state["setup_token"] is False
    [database] = state["databases"]
    assert database["engine"] == "duckdb" and database["name"] == "Dango warehouse"
    assert database["details"]["database_file"] == str(serving)
    assert database["details"]["read_only"] is True
    assert database["details"]["init_sql"].startswith("SET VARIABLE dango_serving_copy = 'published ")
    tables = tables_by_name(state)
    assert set(tables) == VISIBLE | INTERNAL
    assert {key for key, t in tables.items() if t["visibility_type"] == "hidden"} == INTERNAL
    assert state["rescans"] == {"1": 1}
    assert "POST /api/database/1/sync_schema" in calls(metabase.requests())
    # the setup token is gone from the public properties once the admin exists
    with MetabaseClient(make_settings(metabase.url)) as client:
        assert "setup-token" not in client.call("check", "GET", "/api/session/properties")
    assert PASSWORD not in json.dumps(report)


def test_second_run_only_logs_in_syncs_and_rescans(metabase, serving):
    settings = make_settings(metabase.url)
    refresh_metabase(settings, serving)
    before = len(metabase.requests())

    report = refresh_metabase(settings, serving)

    second = calls(metabase.requests()[before:])
    assert report["admin"] == "existing" and report["database"]["action"] == "unchanged" and report["hidden"] == []
    assert "POST /api/session" in second
    assert "POST /api/database/1/sync_schema" in second and "POST /api/database/1/rescan_values" in second
    assert not [c for c in second if c.startswith(("POST /api/setup", "PUT ")) or c == "POST /api/database"], second
    assert len(metabase.state()["databases"]) == 1
    assert metabase.state()["rescans"] == {"1": 2}


def test_a_new_publish_updates_the_details_so_metabase_reads_the_new_copy(metabase, warehouse, serving):
    settings = make_settings(metabase.url)
    first = refresh_metabase(settings, serving)
    metabase.wait_for_syncs(1, 2)  # the creation's sync and the requested one
    old_init_sql = metabase.state()["databases"][0]["details"]["init_sql"]

    build_warehouse(warehouse, "CREATE TABLE marts.customers AS SELECT DISTINCT customer FROM raw_orders.orders",
                    "CREATE SCHEMA raw_customers",
                    "CREATE TABLE raw_customers._dlt_version (version BIGINT)")
    publish_warehouse(warehouse)
    report = refresh_metabase(settings, serving)

    assert report["database"] == {**first["database"], "action": "updated init_sql"}
    state = metabase.state()
    assert len(state["databases"]) == 1
    assert state["databases"][0]["details"]["init_sql"] != old_init_sql
    tables = tables_by_name(state)
    # listed only because the details change closed the pool that still read the replaced file
    assert tables[("marts", "customers")]["visibility_type"] is None
    assert tables[("raw_customers", "_dlt_version")]["visibility_type"] == "hidden"
    assert report["hidden"] == ["raw_customers._dlt_version"]


def test_the_database_file_follows_a_changed_path(metabase, serving, tmp_path):
    refresh_metabase(make_settings(metabase.url), serving)
    elsewhere = tmp_path / "mounted" / "warehouse.duckdb"  # the copy where Metabase would now see it
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(serving.read_bytes())

    report = refresh_metabase(make_settings(metabase.url, database_file=str(elsewhere)), serving)

    assert report["database"]["action"] == "updated database_file"
    [database] = metabase.state()["databases"]
    assert database["details"]["database_file"] == str(elsewhere)
    assert database["details"]["read_only"] is True


def test_two_matching_databases_are_reported_not_guessed(metabase, serving):
    settings = make_settings(metabase.url)
    refresh_metabase(settings, serving)
    with MetabaseClient(settings) as client:
        client.session_id = client.call("log in", "POST", "/api/session",
                                        json_body={"username": EMAIL, "password": PASSWORD})["id"]
        client.call("add", "POST", "/api/database", json_body={
            "name": "Dango warehouse", "engine": "duckdb", "details": {"database_file": str(serving), "read_only": True}})

    with pytest.raises(DangoError, match=r"GET /api/database returned 2 DuckDB databases named 'Dango warehouse' "
                                         r"or reading '.*' \(ids 1, 2\); keep one"):
        refresh_metabase(settings, serving)


def test_health_checks_back_off_until_metabase_is_up(serving):
    server = MetabaseProcess(unhealthy_calls=3)
    try:
        report = refresh_metabase(make_settings(server.url, backoff_initial=0.1, backoff_max=1.0), serving)
        health = [r for r in server.requests() if r["path"] == "/api/health"]
    finally:
        server.stop()

    assert report["health_checks"] == 4
    assert [r["status"] for r in health] == [503, 503, 503, 200]
    gaps = [b["at"] - a["at"] for a, b in zip(health, health[1:])]
    assert gaps[0] >= 0.09 and gaps[1] >= 0.19 and gaps[2] >= 0.39, gaps
    assert gaps[0] < gaps[1] < gaps[2]


def test_a_metabase_that_stays_unhealthy_fails_naming_the_endpoint_and_status(serving):
    server = MetabaseProcess(unhealthy_calls=10_000)
    try:
        with pytest.raises(DangoError, match=r"Metabase health check failed: GET /api/health at http://127.0.0.1:\d+ "
                                             r"did not return 200 within 0.5 s \(\d+ attempts; last: 503 "):
            refresh_metabase(make_settings(server.url, health_timeout=0.5), serving)
    finally:
        server.stop()


def test_an_unreachable_metabase_fails_naming_the_transport_error(serving, tmp_path):
    with pytest.raises(DangoError, match=r"GET /api/health at http://127.0.0.1:9 did not return 200 .*ConnectError"):
        refresh_metabase(make_settings("http://127.0.0.1:9", health_timeout=0.3), serving)


def test_a_wrong_password_fails_clearly_without_the_password(metabase, serving):
    refresh_metabase(make_settings(metabase.url), serving)
    wrong = "Wr0ng-password-42"

    with pytest.raises(DangoError) as raised:
        refresh_metabase(make_settings(metabase.url, password=wrong), serving)

    message = str(raised.value)
    assert message == ("Metabase log in failed: POST /api/session returned 401: password: did not match stored "
                       "password (check the login and password of Airflow connection 'metabase_default')")
    assert wrong not in message and PASSWORD not in message


def test_a_password_metabase_rejects_at_setup_is_not_echoed(metabase, serving):
    with pytest.raises(DangoError) as raised:
        refresh_metabase(make_settings(metabase.url, password="metabase1"), serving)

    assert str(raised.value) == ("Metabase first-run setup failed: POST /api/setup returned 400: "
                                 "password: password is too common.")
    assert metabase.state()["users"] == []


def test_requests_without_a_session_get_401(metabase):
    with MetabaseClient(make_settings(metabase.url)) as client:
        with pytest.raises(DangoError, match=r"^Metabase listing failed: GET /api/database returned 401: Unauthenticated$"):
            client.call("listing", "GET", "/api/database")


def test_without_a_serving_copy_only_the_admin_is_set_up_or_it_is_an_error(metabase, tmp_path):
    missing = tmp_path / "data" / "serving" / "warehouse.duckdb"
    with pytest.raises(DangoError, match="serving copy '.*' does not exist: publish it before refreshing Metabase"):
        refresh_metabase(make_settings(metabase.url), missing)
    assert metabase.requests() == []

    report = refresh_metabase(make_settings(metabase.url), missing, require_serving_copy=False)

    assert report["admin"] == "created" and report["database"] is None
    assert metabase.state()["databases"] == []


# --- settings from an Airflow connection --------------------------------------------------------


def connection(**values) -> SimpleNamespace:
    base = {"host": "metabase", "port": 3000, "schema": None, "conn_type": "generic", "login": EMAIL,
            "password": PASSWORD, "extra_dejson": {}}
    return SimpleNamespace(**{**base, **values})


def test_settings_build_the_url_from_host_port_and_schema():
    assert MetabaseSettings.from_connection(connection()).base_url == "http://metabase:3000"
    assert MetabaseSettings.from_connection(connection(schema="https", port=None)).base_url == "https://metabase"
    assert MetabaseSettings.from_connection(connection(host="https://bi.example.com/")).base_url == "https://bi.example.com:3000"
    settings = MetabaseSettings.from_connection(connection(extra_dejson={"database_file": "/srv/w.duckdb",
                                                                         "sync_timeout": "60"}))
    assert (settings.database_file, settings.sync_timeout, settings.email) == ("/srv/w.duckdb", 60.0, EMAIL)
    assert PASSWORD not in repr(settings)


@pytest.mark.parametrize(("values", "message"), [
    ({"host": ""}, "Airflow connection 'metabase_default': host is empty; set it to Metabase's host name"),
    ({"login": None}, "Airflow connection 'metabase_default': login is empty; set it to the Metabase admin's email"),
    ({"password": ""}, "Airflow connection 'metabase_default': password is empty"),
    ({"extra_dejson": {"database": "x"}}, "Airflow connection 'metabase_default': unknown key(s) in extra: database; "
                                          "allowed: backoff_initial, backoff_max, database_file, database_name"),
    ({"extra_dejson": {"health_timeout": "soon"}}, "extra health_timeout must be a number of seconds, got 'soon'"),
])
def test_settings_reject_an_incomplete_connection(values, message):
    with pytest.raises(DangoError) as raised:
        MetabaseSettings.from_connection(connection(**values))
    assert message in str(raised.value)
