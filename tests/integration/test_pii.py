"""PII scan after a real load with real Presidio: findings recorded, staging masked, or the load blocked."""

from __future__ import annotations

import duckdb
import pytest

from tests.conftest import BIN, airflow_env, run

pytestmark = pytest.mark.slow

CUSTOMERS = "customer_id,full_name,email,city,plan\n" + "".join(
    f"{i},{first} {last},{first.lower()}.{last.lower()}@example.com,{city},{plan}\n"
    for i, (first, last, city, plan) in enumerate([
        ("John", "Smith", "Berlin", "basic"), ("Maria", "Garcia", "Madrid", "pro"),
        ("Akira", "Tanaka", "Osaka", "basic"), ("Emma", "Johnson", "London", "pro"),
        ("Lucas", "Martin", "Paris", "basic"), ("Sofia", "Rossi", "Rome", "team"),
        ("Noah", "Williams", "Chicago", "pro"), ("Olivia", "Brown", "Toronto", "basic"),
        ("Liam", "Jones", "Sydney", "team"), ("Mia", "Miller", "Vienna", "basic"),
    ], start=1)
)


def make_project(root, pii_block: str):
    run([str(BIN / "dango"), "init", str(root), "--no-pool"], {})
    (root / "sources.yml").write_text(
        'version: "1.0"\ndefaults: {retries: 0}\nsources:\n'
        "  - name: customers\n    type: csv\n    primary_key: customer_id\n"
        f"    pii: {pii_block}\n    csv: {{directory: data/customers}}\n"
    )
    (root / "data" / "customers").mkdir(parents=True)
    (root / "data" / "customers" / "customers.csv").write_text(CUSTOMERS)
    return root


def _sql(project, sql):
    con = duckdb.connect(str(project / "data" / "warehouse.duckdb"), read_only=True)
    try:
        return con.sql(sql).fetchall()
    finally:
        con.close()


def test_mask_policy_records_findings_and_masks_staging(tmp_path, airflow_home):
    project = make_project(tmp_path / "p", "{policy: mask, methods: {EMAIL_ADDRESS: redact}, columns: {city: null}}")
    env = airflow_env(airflow_home, project)
    run([str(BIN / "airflow"), "dags", "test", "dango_ingest__customers"], env)
    findings = _sql(project, "select column_name, entity, action from dango_meta.pii_findings order by 1")
    assert findings == [("email", "EMAIL_ADDRESS", "mask"), ("full_name", "PERSON", "mask")]
    columns = {r[0] for r in _sql(project, "select column_name from information_schema.columns "
                                           "where table_schema = 'dango_meta' and table_name = 'pii_findings'")}
    assert not columns & {"value", "values", "sample", "samples"}  # sampled values are never stored
    run([str(BIN / "airflow"), "dags", "test", "dango_transform"], env)
    rows = _sql(project, "select email, full_name, city from staging.stg_customers__customers order by customer_id")
    assert {r[0] for r in rows} == {"<EMAIL_ADDRESS>"}
    assert all(len(r[1]) == 64 for r in rows)  # hashed
    assert rows[0][2] == "Berlin"  # overridden as not PII: left as it is


def test_block_policy_fails_without_retry_and_keeps_blocking(tmp_path, airflow_home):
    """With the default retries, a block is final: the retry does not turn it into success, a later load
    that finds no new column blocks again, and only marking the columns as not PII lets the data through."""
    project = make_project(tmp_path / "p", "{policy: block, columns: {city: null}}")
    text = (project / "sources.yml").read_text().replace("defaults: {retries: 0}", "defaults: {retry_delay: 1s}")
    (project / "sources.yml").write_text(text)
    env = airflow_env(airflow_home, project)
    message = "personal data found and the PII policy is block: customers.email (EMAIL_ADDRESS), " \
              "customers.full_name (PERSON)"

    first = run([str(BIN / "airflow"), "dags", "test", "dango_ingest__customers"], env, check=False)
    log = first.stdout + first.stderr
    assert first.returncode != 0
    assert message in log
    assert "AirflowFailException" in log and "up_for_retry" not in log.lower()
    assert not (project / "dbt" / "models" / "staging" / "customers").exists()

    (project / "data" / "customers" / "more.csv").write_text("customer_id,full_name,email,city,plan\n"
                                                             "11,Ana Lopez,ana.lopez@example.com,Lima,pro\n")
    second = run([str(BIN / "airflow"), "dags", "test", "dango_ingest__customers"], env, check=False)
    assert second.returncode != 0
    assert "no new text column to scan" in second.stdout + second.stderr
    assert message in second.stdout + second.stderr
    assert not (project / "dbt" / "models" / "staging" / "customers").exists()

    (project / "sources.yml").write_text(text.replace("{city: null}", "{city: null, email: null, full_name: null}"))
    (project / "data" / "customers" / "more.csv").write_text("customer_id,full_name,email,city,plan\n"
                                                             "12,Ben Ode,ben.ode@example.com,Accra,pro\n")
    run([str(BIN / "airflow"), "dags", "test", "dango_ingest__customers"], env)
    assert (project / "dbt" / "models" / "staging" / "customers" / "stg_customers__customers.sql").exists()
