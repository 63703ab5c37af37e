"""Airflow DAGs of the dango project named by [dango] project_dir (AIRFLOW__DANGO__PROJECT_DIR)."""
from dango_provider.dag_builder import register

register(globals())
