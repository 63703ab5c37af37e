"""``MetabaseRefreshOperator.execute`` and ``dango metabase setup`` with a real Airflow connection
(``AIRFLOW_CONN_METABASE_DEFAULT``) pointing at the Metabase stand-in."""

from __future__ import annotations

import argparse
import json
import logging

import pytest

from dango_provider.cli import metabase as metabase_cli
from dango_provider.exceptions import DangoError
from dango_provider.operators.metabase import MetabaseRefreshOperator
from tests.unit.metabase.conftest import EMAIL, INTERNAL, PASSWORD

SOURCES = """\
version: "1.0"
sources:
  - name: orders
    type: csv
    csv: {directory: data/orders}
"""


@pytest.fixture
def project(tmp_path, serving):
    root = tmp_path / "project"
    (root / "data" / "orders").mkdir(parents=True, exist_ok=True)
    (root / "sources.yml").write_text(SOURCES)
    return root


def logged(caplog, capsys) -> str:
    """What the task logged: Airflow's task loggers write to stdout, the provider's modules to logging."""
    out = capsys.readouterr()
    return caplog.text + out.out + out.err


def set_connection(monkeypatch, url: str, **extra) -> None:
    host, port = url.removeprefix("http://").split(":")
    monkeypatch.setenv("AIRFLOW_CONN_METABASE_DEFAULT", json.dumps({
        "conn_type": "generic", "host": host, "port": int(port), "login": EMAIL, "password": PASSWORD,
        "extra": {"backoff_initial": 0.05, "backoff_max": 0.4, "sync_timeout": 20, **extra}}))


def test_without_a_connection_the_operator_only_logs(monkeypatch, project, caplog, capsys):
    import dango_provider.settings as settings

    monkeypatch.delenv("AIRFLOW_CONN_METABASE_DEFAULT", raising=False)
    loads = []
    real = settings.load_configured_project
    monkeypatch.setattr(settings, "load_configured_project", lambda *a, **k: loads.append(a) or real(*a, **k))
    operator = MetabaseRefreshOperator(task_id="refresh_metabase", project_dir=str(project))

    with caplog.at_level(logging.INFO):
        assert operator.execute({"run_id": "run1"}) is None

    assert ("no Airflow connection 'metabase_default': Metabase is not configured, nothing to refresh"
            in logged(caplog, capsys))
    assert loads == [], "without Metabase the project is not loaded"


def test_a_run_that_was_not_published_skips_the_refresh_saying_why(monkeypatch, project, metabase):
    from airflow.sdk.exceptions import AirflowSkipException

    from dango_provider.core.transform_results import record

    set_connection(monkeypatch, metabase.url)
    record(project / ".dango" / "state", "run1", {"results": [
        {"unique_id": "test.p.totals_ok", "status": "fail", "message": "Got 1 result"}]}, task_id="dbt_build")
    operator = MetabaseRefreshOperator(task_id="refresh_metabase", project_dir=str(project))
    with pytest.raises(AirflowSkipException, match=r"not published: 1 node\(s\) of this run failed .*totals_ok: fail"):
        operator.execute({"run_id": "run1"})
    assert operator.execute({"run_id": "run2"})["database"]["id"], "another run, clean, refreshes"


def test_with_a_connection_the_operator_sets_up_and_syncs(monkeypatch, project, metabase, caplog, capsys):
    set_connection(monkeypatch, metabase.url)
    operator = MetabaseRefreshOperator(task_id="refresh_metabase", project_dir=str(project))

    with caplog.at_level(logging.INFO):
        report = operator.execute({"run_id": "run1"})

    assert report["admin"] == "created" and report["database"]["action"] == "created"
    assert report["database"]["database_file"] == str(project / "data" / "serving" / "warehouse.duckdb")
    assert len(report["hidden"]) == len(INTERNAL)
    assert metabase.state()["rescans"] == {"1": 1}
    log_text = logged(caplog, capsys)
    assert "Metabase v0.63.10 at http://127.0.0.1:" in log_text and "hid 4" in log_text
    assert PASSWORD not in json.dumps(report) and PASSWORD not in log_text  # the XCom and the log

    again = operator.execute({"run_id": "run1"})
    assert again["admin"] == "existing" and again["database"]["action"] == "unchanged"


def test_a_configured_metabase_that_fails_fails_the_task(monkeypatch, project, caplog, capsys):
    set_connection(monkeypatch, "http://127.0.0.1:9", health_timeout=0.3)
    operator = MetabaseRefreshOperator(task_id="refresh_metabase", project_dir=str(project))

    with caplog.at_level(logging.INFO), pytest.raises(DangoError, match=r"Metabase health check failed: GET /api/health") as raised:
        operator.execute({"run_id": "run1"})
    log_text = logged(caplog, capsys)
    assert "Metabase is not ready (GET /api/health: ConnectError" in log_text
    assert PASSWORD not in log_text + str(raised.value)


def test_the_operator_holds_no_pool_and_templates_its_arguments(project):
    operator = MetabaseRefreshOperator(task_id="refresh_metabase", project_dir=str(project))
    assert operator.pool == "default_pool"
    assert operator.template_fields == ("project_dir", "metabase_conn_id")


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="dango")
    metabase_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.func(args)


def test_the_setup_command_prints_what_it_did(monkeypatch, project, metabase, capsys):
    set_connection(monkeypatch, metabase.url)

    assert run_cli("metabase", "setup", "--project", str(project)) == 0
    text = capsys.readouterr().out
    assert "admin created" in text and "database 'Dango warehouse' (id 1) created" in text

    assert run_cli("metabase", "setup", "--project", str(project), "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["admin"] == "existing" and report["database"]["action"] == "unchanged"
    assert PASSWORD not in text and PASSWORD not in json.dumps(report)


def test_the_setup_command_without_a_serving_copy_sets_up_the_admin(monkeypatch, project, metabase, capsys):
    (project / "data" / "serving" / "warehouse.duckdb").unlink()
    set_connection(monkeypatch, metabase.url)

    assert run_cli("metabase", "setup", "--project", str(project)) == 0
    assert "no serving copy at" in capsys.readouterr().out
    assert metabase.state()["users"] == [EMAIL] and metabase.state()["databases"] == []


def test_the_setup_command_without_a_connection_says_how_to_add_one(monkeypatch, project):
    monkeypatch.delenv("AIRFLOW_CONN_METABASE_DEFAULT", raising=False)
    with pytest.raises(DangoError, match=r"no Airflow connection 'metabase_default': add it with the Metabase URL"):
        run_cli("metabase", "setup", "--project", str(project))


def test_the_setup_command_shows_progress_on_stderr_while_it_waits(monkeypatch, project, capsys):
    from tests.servers.metabase import MetabaseProcess

    starting = MetabaseProcess(unhealthy_calls=3)
    try:
        set_connection(monkeypatch, starting.url)
        assert run_cli("metabase", "setup", "--project", str(project), "--json") == 0
    finally:
        starting.stop()
    out = capsys.readouterr()
    assert json.loads(out.out)["database"]["action"] == "created"  # stdout stays valid JSON
    waits = [line for line in out.err.splitlines() if "Metabase is not ready (GET /api/health: 503" in line]
    assert len(waits) == 3 and all(line.startswith("[") and "s] " in line for line in waits)
    assert "tables of the serving copy listed" in out.err
    assert PASSWORD not in out.err
