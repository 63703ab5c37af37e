"""Under a real scheduler (LocalExecutor, SQLite): with ``transform: {build: changed}`` a load triggers a
transform that rebuilds only what depends on the sources that loaded; a run triggered with conf
``{"sources": [...]}`` rebuilds what depends on those; an unchanged re-sync triggers no transform at all
and runs nothing after its extract."""

from __future__ import annotations

import json
import time

import duckdb
import pytest

from tests.conftest import BIN, make_small_project, run
from tests.deployment import Deployment, ingest_and_transform_done, wait_for

pytestmark = pytest.mark.slow

SOURCES = """\
version: "1.0"
defaults: {retries: 0}
transform: {build: changed, poll_interval: 2s}
sources:
  - name: shop
    type: csv
    primary_key: order_id
    csv: {directory: data/shop}
  - name: crm
    type: csv
    primary_key: account_id
    csv: {directory: data/crm}
"""

FILES = {
    "data/shop/orders.csv": "order_id,amount\n1,10.0\n2,20.0\n",
    "data/crm/accounts.csv": "account_id,name\n1,a\n",
    "dbt/models/marts/shop_count.sql": "select count(*) as n from {{ ref('stg_shop__shop') }}\n",
    "dbt/models/marts/crm_count.sql": "select count(*) as n from {{ ref('stg_crm__crm') }}\n",
    "dbt/models/marts/both_count.sql": "select (select n from {{ ref('shop_count') }}) + "
                                       "(select n from {{ ref('crm_count') }}) as n\n",
}


def _transform_runs(deployment: Deployment) -> list[tuple]:
    return deployment.query("select run_id, state from dag_run where dag_id = 'dango_transform' order by id")


def _model_states(deployment: Deployment, run_id: str) -> dict[str, str]:
    rows = deployment.query("select task_id, state from task_instance where dag_id = 'dango_transform' "
                            "and run_id = ?", run_id)
    return {model: state for task_id, state in rows
            for model in ("shop_count", "crm_count", "both_count") if task_id.startswith(f"dbt.{model}_")}


def _marts(project) -> dict[str, int]:
    con = duckdb.connect(str(project / "data" / "warehouse.duckdb"), read_only=True)
    try:
        return {m: con.sql(f"select n from marts.{m}").fetchone()[0] for m in ("shop_count", "crm_count", "both_count")}
    finally:
        con.close()


def _new_run_done(deployment: Deployment, dag_id: str, seen: int):
    def done():
        runs = deployment.query("select run_id, state from dag_run where dag_id = ? order by id", dag_id)
        return runs[-1] if len(runs) > seen and runs[-1][1] in ("success", "failed") else None
    return done


def test_a_load_rebuilds_only_what_depends_on_the_changed_source(tmp_path):
    project = make_small_project(tmp_path / "project", SOURCES, FILES)
    deployment = Deployment(tmp_path, project, "sqlite")
    try:
        deployment.start_all()
        wait_for(lambda: len(deployment.query("select dag_id from dag where dag_id like 'dango_%'")) == 3,
                 240, "the DAG processor to parse the DAGs")
        for source in ("shop", "crm"):
            deployment.trigger(f"dango_ingest__{source}")
        wait_for(ingest_and_transform_done(deployment, ["dango_ingest__shop", "dango_ingest__crm"]), 600,
                 "both ingests and a transform", interval=3)
        # the transform DAG was parsed before the first load (no manifest yet): once the DAG processor has
        # rendered its models as tasks, a run by hand (no conf, no asset event) builds the whole project
        wait_for(lambda: _rendered(deployment), 240, "the transform DAG rendered with its models", interval=3)
        seen = len(_transform_runs(deployment))
        deployment.trigger("dango_transform")
        _, state = wait_for(_new_run_done(deployment, "dango_transform", seen), 300, "a full transform")
        assert state == "success"
        assert _marts(project) == {"shop_count": 2, "crm_count": 1, "both_count": 3}

        # a new shop file: the shop load starts a transform that rebuilds shop's models and what uses them
        (project / "data" / "shop" / "more.csv").write_text("order_id,amount\n3,30.0\n")
        seen = len(_transform_runs(deployment))
        deployment.trigger("dango_ingest__shop")
        run_id, state = wait_for(_new_run_done(deployment, "dango_transform", seen), 300,
                                 "the transform started by the shop load")
        assert state == "success"
        assert _model_states(deployment, run_id) == {"shop_count": "success", "crm_count": "skipped",
                                                    "both_count": "success"}
        # Metabase's refresh and the docs follow the node tasks: the skipped ones do not stop them
        after = dict(deployment.query("select task_id, state from task_instance where dag_id = 'dango_transform' "
                                      "and run_id = ? and task_id in ('refresh_metabase', 'dbt_docs')", run_id))
        # (the docs run after the refresh; they skip themselves, saying so, when their site is current)
        assert after["refresh_metabase"] == "success" and after["dbt_docs"] in ("success", "skipped"), after
        assert _marts(project) == {"shop_count": 3, "crm_count": 1, "both_count": 4}
        logs = deployment.task_logs()
        assert "transform.build is 'changed': this run was started by loads of shop" in logs
        assert "not selected: this run rebuilds only what depends on shop; crm_count keeps what the warehouse " \
               "holds" in logs

        # nothing changed: the re-sync's extract skips, nothing after it runs, no transform starts
        seen_ingest = len(deployment.query("select 1 from dag_run where dag_id = 'dango_ingest__shop'"))
        seen = len(_transform_runs(deployment))
        started = time.monotonic()
        deployment.trigger("dango_ingest__shop")
        ingest_run, state = wait_for(_new_run_done(deployment, "dango_ingest__shop", seen_ingest), 120,
                                     "the unchanged re-sync", interval=0.5)
        print(f"no-op re-sync under the scheduler: trigger to done {time.monotonic() - started:.1f} s")
        assert state == "success"
        states = dict(deployment.query("select task_id, state from task_instance where dag_id = "
                                       "'dango_ingest__shop' and run_id = ?", ingest_run))
        assert states.pop("extract") == "skipped", states
        assert set(states.values()) == {"skipped"}, states
        # skipped by the extract itself before it ended, not by the scheduler one loop per task after it
        ends = dict(deployment.query("select task_id, end_date from task_instance where dag_id = "
                                     "'dango_ingest__shop' and run_id = ?", ingest_run))
        assert all(ends[task] <= ends["extract"] for task in states), ends
        # the task processes forked from a scheduler that had imported their libraries (decision 0019) and
        # parsed a dbt project once (0020); the tasks themselves, which see the scheduler's argv, did neither
        scheduler_log = (deployment.logs / "scheduler.log").read_text()
        assert "task modules ahead of the LocalExecutor's forks" in scheduler_log
        assert "warmed up dbt's parser ahead of the LocalExecutor's forks" in scheduler_log
        task_logs = list((deployment.home / "logs").rglob("attempt=*.log"))
        assert task_logs
        assert not [p for p in task_logs if "ahead of the LocalExecutor's forks" in p.read_text()]
        time.sleep(15)  # the scheduler would have queued an asset-triggered run by now
        assert len(_transform_runs(deployment)) == seen

        # a run by hand scoped to crm by its conf
        run([str(BIN / "airflow"), "dags", "trigger", "dango_transform", "--conf", json.dumps({"sources": ["crm"]})],
            deployment.env)
        run_id, state = wait_for(_new_run_done(deployment, "dango_transform", seen), 300, "the run scoped to crm")
        assert state == "success"
        assert _model_states(deployment, run_id) == {"shop_count": "skipped", "crm_count": "success",
                                                    "both_count": "success"}

        # a conf naming no source fails the run, saying which names are unknown
        seen += 1
        run([str(BIN / "airflow"), "dags", "trigger", "dango_transform", "--conf", json.dumps({"sources": ["shp"]})],
            deployment.env)
        _, state = wait_for(_new_run_done(deployment, "dango_transform", seen), 300, "the run with a bad conf")
        assert state == "failed"
        assert "no enabled source named shp (known: crm, shop)" in deployment.task_logs()
    finally:
        deployment.stop()


def _rendered(deployment: Deployment) -> bool:
    """The DAG processor has re-parsed ``dango_transform`` with its model tasks (serialized DAG)."""
    rows = deployment.query("select data from serialized_dag where dag_id = 'dango_transform'")
    return any("shop_count" in str(data) for (data,) in rows)
