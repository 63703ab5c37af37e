"""A migrated dbt project that still holds Dango's flat staging files (written by Dango 1.0.13's own
generator) builds beside ours: Dango's generated files are set aside, a model a person took over is theirs,
and Dango's dbt source name keeps working. Real Airflow (`airflow dags test`), dlt, DuckDB and dbt."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from dango_provider.core.dango_staging import SET_ASIDE
from dango_provider.core.staging import RawTable, write_staging
from tests.conftest import BIN, airflow_env, make_small_project, run

FIXTURES = Path(__file__).resolve().parents[1] / "dango_compat" / "fixtures"
DANGO_STAGING = FIXTURES / "dango_staging"


def dango_project(root: Path) -> Path:
    project = make_small_project(root, "", {
        "data/uploads/jan.csv": "id,amount\n1,10\n2,20\n",
        # a person's models: one on our staging model, one on Dango's dbt source name
        "dbt/models/marts/amounts.sql": "select sum(amount) as total from {{ ref('stg_my_csv__my_csv') }}\n",
        "dbt/models/marts/raw_count.sql": "select count(*) as n from {{ source('my_csv', 'my_csv') }}\n",
    })
    (project / "sources.yml").unlink()
    (project / ".dango").mkdir()
    shutil.copy(FIXTURES / "csv__defaults.yml", project / ".dango" / "sources.yml")
    shutil.copytree(DANGO_STAGING, project / "dbt" / "models" / "staging", dirs_exist_ok=True)
    return project


@pytest.mark.slow
def test_dangos_generated_staging_files_give_way_to_ours(tmp_path, airflow_home):
    project = dango_project(tmp_path / "p")
    env = airflow_env(airflow_home, project)

    ingest = run([str(BIN / "airflow"), "dags", "test", "dango_ingest__my_csv"], env)
    run([str(BIN / "airflow"), "dags", "test", "dango_transform"], env)

    staging = project / "dbt" / "models" / "staging"
    assert sorted(p.name for p in staging.glob("[!.]*") if p.is_file()) == ["sources_my_csv.yml"]  # Dango's source
    assert sorted(p.name for p in (project / "dbt" / SET_ASIDE / "staging").iterdir()) == [
        "stg_my_csv.yml", "stg_my_csv__my_csv.sql"]
    assert "Dango's generated models/staging/stg_my_csv__my_csv.sql is replaced by the generated model" in (
        ingest.stdout + ingest.stderr)
    con = duckdb.connect(str(project / "data" / "warehouse.duckdb"), read_only=True)
    try:
        assert con.sql("select total from marts.amounts").fetchone() == (30,)
        assert con.sql("select n from marts.raw_count").fetchone() == (2,)
    finally:
        con.close()


def test_a_model_taken_over_from_dango_is_kept_and_not_generated(tmp_path, caplog):
    dbt_dir = tmp_path / "dbt"
    flat = dbt_dir / "models" / "staging"
    flat.mkdir(parents=True)
    for path in DANGO_STAGING.iterdir():
        shutil.copy(path, flat / path.name)
    # the person removed Dango's comment block to keep the model as theirs (Dango's own rule)
    customized = flat / "stg_my_csv__my_csv.sql"
    customized.write_text("\n".join(line for line in customized.read_text().splitlines()
                                    if not line.startswith("--")) + "\n")

    table = RawTable(source="my_csv", table="my_csv", columns=[("id", "bigint"), ("amount", "bigint")],
                     primary_key=[])
    written = write_staging(dbt_dir, "my_csv", [table])

    assert customized.is_file()
    assert [p.name for p in written] == ["_my_csv__sources.yml"]
    assert not (flat / "stg_my_csv.yml").exists()  # Dango's generated docs of it: set aside
    assert "is a staging model a person took over from Dango: it is kept" in caplog.text
