"""The per-run record of dbt results: merged per task, failures first, pruned, no credentials kept."""

from __future__ import annotations

import os

from dango_provider.core import transform_results
from dango_provider.core.transform_results import recent_runs, record


def result(unique_id: str, status: str, **extra) -> dict:
    return {"unique_id": unique_id, "status": status, "execution_time": 0.25, "message": extra.pop("message", None),
            "adapter_response": {"rows_affected": extra.pop("rows", None)}, "failures": extra.pop("failures", None),
            **extra}


def test_tasks_merge_into_one_run_and_a_retry_keeps_the_latest_result(tmp_path):
    record(tmp_path, "manual__2026-12-04T05:00:00+00:00", {"results": [
        result("model.shop.stg_orders", "success", rows=3),
        result("test.shop.not_null_stg_orders_id.ab12", "pass")]}, task_id="dbt_build")
    record(tmp_path, "manual__2026-12-04T05:00:00+00:00", {"results": [
        result("model.shop.revenue", "error", message="Binder Error: column x", compiled_code="select x")]},
        task_id="dbt.revenue_model_build")

    [run] = recent_runs(tmp_path)
    assert run["counts"] == {"error": 1, "success": 1, "pass": 1}
    assert [(n["name"], n["status"]) for n in run["nodes"]] == [
        ("revenue", "error"), ("stg_orders", "success"), ("not_null_stg_orders_id", "pass")]
    assert run["nodes"][0]["compiled_sql"] == "select x" and "compiled_sql" not in run["nodes"][1]
    assert run["nodes"][1]["rows"] == 3

    record(tmp_path, "manual__2026-12-04T05:00:00+00:00", {"results": [result("model.shop.revenue", "success")]},
           task_id="dbt.revenue_model_build")
    [run] = recent_runs(tmp_path)
    assert run["failed"] == 0 and run["counts"] == {"success": 2, "pass": 1}


def test_credentials_in_a_message_or_sql_are_not_kept(tmp_path):
    record(tmp_path, "r1", {"results": [result(
        "model.shop.remote", "error", message="could not connect to postgresql://app:s3cret@db/shop",
        compiled_code="select * from postgres_scan('postgresql://app:s3cret@db/shop', 'public', 't')")]},
        task_id="dbt.remote_model_build")

    text = next(transform_results.runs_dir(tmp_path).glob("*.json")).read_text()
    assert "s3cret" not in text


def test_old_runs_are_pruned_and_newest_come_first(tmp_path, monkeypatch):
    monkeypatch.setattr(transform_results, "KEEP", 3)
    for index in range(5):
        record(tmp_path, f"run_{index}", {"results": [result("model.shop.m", "success")]}, task_id="t")
        path = transform_results.runs_dir(tmp_path) / f"run_{index}.json"
        os.utime(path, (1_000_000 + index, 1_000_000 + index))

    assert sorted(p.name for p in transform_results.runs_dir(tmp_path).glob("*.json")) == [
        "run_2.json", "run_3.json", "run_4.json"]
    assert [r["run_id"] for r in recent_runs(tmp_path, limit=2)] == ["run_4", "run_3"]
