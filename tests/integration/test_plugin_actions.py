"""The overview's actions in a real ``airflow api-server`` (SimpleAuthManager): accept a source's schema
changes, re-run it, reload it from scratch. Only a user who may edit the source's DAG sees the buttons
and may use them; a viewer and an anonymous request are refused, and so is a request without this site's
origin or without the form's token. Each action leaves an audit record (who, when)."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from html import unescape
from pathlib import Path

import httpx
import pytest

from dango_provider.core.governance_state import drift_blocked
from tests.apiserver import ApiServer, api_server, make_served_project, prepare_airflow_home
from tests.conftest import BIN, run, stop_group
from tests.deployment import wait_for

pytestmark = pytest.mark.slow

HTML = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return make_served_project(tmp_path_factory.mktemp("plugin_actions") / "shop")


@pytest.fixture(scope="module")
def home(tmp_path_factory, project) -> Path:
    return prepare_airflow_home(tmp_path_factory.mktemp("plugin_actions_airflow"), project)


@pytest.fixture(scope="module")
def server(tmp_path_factory, project, home) -> ApiServer:
    with api_server(home, tmp_path_factory.mktemp("plugin_actions_server"), project,
                    users={"ana": "ADMIN", "vic": "VIEWER"}) as started:
        yield started


def page(server: ApiServer, user: str) -> str:
    response = httpx.get(f"{server.url}/dango/", headers=HTML, cookies={"_token": server.token(user)}, timeout=120)
    assert response.status_code == 200
    return response.text


def form_token(html: str, path: str) -> str:
    match = re.search(rf'<form method="post" action="{re.escape(path)}"[^>]*><input type="hidden" name="token" '
                      r'value="([0-9a-f]+)">', html)
    assert match, f"no form for {path}"
    return match.group(1)


def post(server: ApiServer, path: str, *, user: str | None, token: str = "", origin: str | None = "self",
         accept: dict | None = None) -> httpx.Response:
    headers = dict(accept or HTML)
    if origin == "self":
        headers["origin"] = server.url
    elif origin:
        headers["origin"] = origin
    cookies = {"_token": server.token(user)} if user else {}
    return httpx.post(server.url + path, data={"token": token}, headers=headers, cookies=cookies, timeout=120,
                      follow_redirects=False)


def dag_runs(home: Path, dag_id: str) -> list[tuple[str, dict]]:
    con = sqlite3.connect(home / "airflow.db")
    try:
        # manual runs only: unpausing orders (scheduled daily) also starts its latest scheduled run
        rows = con.execute("select run_id, conf from dag_run where dag_id = ? and run_id like 'manual__%' "
                           "order by id", (dag_id,)).fetchall()
    finally:
        con.close()
    return [(run_id, _conf(conf)) for run_id, conf in rows]


def _conf(value) -> dict:
    if value is None:
        return {}
    if isinstance(value, bytes):
        import pickle

        return pickle.loads(value)  # noqa: S301 (Airflow's own column, this test's own database)
    return json.loads(value)


def audit(project: Path) -> list[dict]:
    path = project / ".dango" / "state" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_viewer_sees_no_buttons_and_is_refused(server, project, home):
    html = page(server, "vic")
    assert "act-run" not in html and "act-accept-drift" not in html and 'name="token"' not in html
    refused = post(server, "/dango/sources/orders/run", user="vic", token="0" * 64)
    assert refused.status_code == 403 and "vic may not edit dango_ingest__orders" in unescape(refused.text)
    assert refused.headers["content-type"].startswith("text/html"), "a person gets a page, not JSON"
    anonymous = post(server, "/dango/sources/orders/run", user=None, accept={"accept": "application/json"})
    assert anonymous.status_code == 401
    assert dag_runs(home, "dango_ingest__orders") == [] and audit(project) == []


def test_an_editor_re_runs_and_reloads_a_source_from_the_overview(server, project, home, tmp_path):
    html = page(server, "ana")
    token = form_token(html, "/dango/sources/orders/run")
    assert "act-full-refresh" in html and "act-accept-drift" in html

    for origin, sent, reason in ((None, token, "did not come from a page of this site"),
                                 ("https://evil.example", token, "did not come from a page of this site"),
                                 ("self", "", "token is missing or not this user's"),
                                 ("self", form_token(html, "/dango/sources/orders/full-refresh"),
                                  "token is missing or not this user's")):
        refused = post(server, "/dango/sources/orders/run", user="ana", token=sent, origin=origin)
        assert refused.status_code == 403 and reason in unescape(refused.text), refused.text
    # nothing would run it yet: refused with what to do, instead of a run left queued
    paused = post(server, "/dango/sources/orders/run", user="ana", token=token)
    assert paused.status_code == 409 and "DAG dango_ingest__orders is paused; unpause it" in unescape(paused.text)
    assert dag_runs(home, "dango_ingest__orders") == [] and audit(project) == []

    run([str(BIN / "airflow"), "dags", "unpause", "dango_ingest__orders"], server.env)
    scheduler_env = {**server.env, "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                     "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{server.url}/execution/",
                     "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2"}
    with open(tmp_path / "scheduler.log", "ab") as out:
        scheduler = subprocess.Popen([str(BIN / "airflow"), "scheduler"], env=scheduler_env, stdout=out,
                                     stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: _scheduler_alive(home), 120, "the scheduler's heartbeat")
        done = post(server, "/dango/sources/orders/run", user="ana", token=token)
        assert (done.status_code, done.headers["location"]) == (303, "/dango/#source-orders")
        wait_for(lambda: _states(home) == ["success"], 300, "the re-run to succeed under the scheduler")
        refresh = post(server, "/dango/sources/orders/full-refresh", user="ana",
                       token=form_token(html, "/dango/sources/orders/full-refresh"))
        assert refresh.status_code == 303
        wait_for(lambda: _states(home) == ["success", "success"], 300, "the full refresh to succeed")
    finally:
        stop_group(scheduler)
    runs = dag_runs(home, "dango_ingest__orders")
    assert [conf for _, conf in runs] == [{"requested_by": "ana"}, {"requested_by": "ana", "full_refresh": True}]
    logs = "\n".join(p.read_text(errors="replace") for p in (home / "logs").rglob("*.log")
                     if "task_id=extract" in str(p))
    assert "run requested by ana from the Dango overview" in logs
    assert "run requested by ana from the Dango overview (full refresh)" in logs
    records = audit(project)
    assert [(r["user"], r["action"], r["source"]) for r in records] == [("ana", "run", "orders"),
                                                                         ("ana", "full-refresh", "orders")]
    assert records[0]["result"] == f"triggered dango_ingest__orders run {runs[0][0]}" and records[0]["at"]
    # the overview's run history shows both runs with their state
    history = page(server, "vic")
    history = history[history.index('id="recent-runs"'):history.index("</table>", history.index('id="recent-runs"'))]
    for run_id, _ in runs:
        row = history[history.index(f'data-run="{run_id}"'):]
        assert row.index('<span class="badge success">success</span>') < row.index("</tr>")


def _scheduler_alive(home: Path) -> bool:
    con = sqlite3.connect(home / "airflow.db")
    try:
        return bool(con.execute("select 1 from job where job_type = 'SchedulerJob' and state = 'running'").fetchall())
    finally:
        con.close()


def _states(home: Path) -> list[str]:
    con = sqlite3.connect(home / "airflow.db")
    try:
        rows = con.execute("select state from dag_run where dag_id = 'dango_ingest__orders' "
                           "and run_id like 'manual__%' order by id").fetchall()
    finally:
        con.close()
    failed = [r for r in rows if r[0] == "failed"]
    assert not failed, "a run triggered from the overview failed"
    return [r[0] for r in rows]


def test_an_editor_accepts_a_sources_schema_changes(server, project):
    state_dir = project / ".dango" / "state" / "sources" / "customers"
    assert drift_blocked(state_dir) is not None
    html = page(server, "ana")
    done = post(server, "/dango/sources/customers/accept-drift", user="ana",
                token=form_token(html, "/dango/sources/customers/accept-drift"))
    assert (done.status_code, done.headers["location"]) == (303, "/dango/#source-customers")
    assert drift_blocked(state_dir) is None
    record = audit(project)[-1]
    assert (record["user"], record["action"], record["source"]) == ("ana", "accept-drift", "customers")
    assert unescape(record["result"]).startswith("accepted 1 schema change event(s) of source 'customers' as ana")
    # nothing left to accept: the button is gone, and a replayed form changes nothing and says so
    assert "act-accept-drift" not in page(server, "ana")
    again = post(server, "/dango/sources/customers/accept-drift", user="ana",
                 token=form_token(html, "/dango/sources/customers/accept-drift"))
    assert again.status_code == 303 and audit(project)[-1]["result"].startswith(
        "source 'customers' has no schema change waiting")
