"""A Dango project whose ``.dango/project.yml`` moves the warehouse and the dbt project (files written by
Dango 1.0.13's own code) loads and transforms there under real Airflow (`airflow dags test`), dlt and dbt."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from tests.conftest import BIN, airflow_env, make_small_project, run

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parents[1] / "dango_compat" / "fixtures"


def test_platform_paths_of_project_yml_are_where_data_and_models_go(tmp_path, airflow_home):
    project = make_small_project(tmp_path / "p", "", {"data/uploads/jan.csv": "id,amount\n1,10\n2,20\n"})
    (project / "sources.yml").unlink()
    (project / "dbt").rename(project / "transform")  # project.yml: dbt_project_dir ./transform
    (project / ".dango").mkdir()
    shutil.copy(FIXTURES / "csv__defaults.yml", project / ".dango" / "sources.yml")
    shutil.copy(FIXTURES / "project.yml", project / ".dango" / "project.yml")
    env = airflow_env(airflow_home, project)

    run([str(BIN / "airflow"), "dags", "test", "dango_ingest__my_csv"], env)
    run([str(BIN / "airflow"), "dags", "test", "dango_transform"], env)

    assert not (project / "data" / "warehouse.duckdb").exists()
    assert (project / "transform" / "models" / "staging" / "my_csv" / "stg_my_csv__my_csv.sql").is_file()
    con = duckdb.connect(str(project / "lake" / "shop.duckdb"), read_only=True)
    try:
        assert con.sql("select count(*) from raw_my_csv.my_csv").fetchone() == (2,)
        assert con.sql("select count(*) from staging.stg_my_csv__my_csv").fetchone() == (2,)
    finally:
        con.close()
