#!/usr/bin/env bash
# Run the demo end to end on a fresh machine: install from the lock, scaffold the demo project,
# load its four CSV sources with dlt into DuckDB and build the dbt project through Cosmos,
# all with `airflow dags test` on Airflow's embedded SQLite database (the five DAGs in one process).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
python3 -m pip install --quiet --disable-pip-version-check uv==0.13.8
# byte-code compiled once here: every airflow process of the demo then reads .pyc instead of compiling
python3 -m uv sync --frozen --inexact --quiet --compile-bytecode

started=$(date +%s.%N)  # the demo's own time, once the venv exists
demo="${DANGO_DEMO_DIR:-$repo/.demo}"
rm -rf "$demo"
export AIRFLOW_HOME="$demo/airflow"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_FOLDER="$demo/project/dags"
export AIRFLOW__DANGO__PROJECT_DIR="$demo/project"
bin="$repo/.venv/bin"

"$bin/airflow" db migrate >"$demo.migrate.log" 2>&1 || { cat "$demo.migrate.log"; exit 1; }
"$bin/dango" init "$demo/project" --demo
# the five DAGs through Airflow's own `dags test`, one after another in one process (scripts/dags_test.py):
# Airflow's start and its in-process execution API are paid once instead of five times
"$bin/python" "$repo/scripts/dags_test.py" dango_ingest__customers dango_ingest__products dango_ingest__orders \
  dango_ingest__order_lines dango_transform 3>&1 >"$demo/dags_test.log" 2>&1 \
  || { tail -40 "$demo/dags_test.log"; exit 1; }
grep -E "rows (normalized|loaded)" "$demo/dags_test.log" | sed 's/.*\] source/  source/; s/ \[.*//'
grep -cE "Done. PASS=" "$demo/dags_test.log" | sed 's/^/  dbt invocations passed: /'
"$bin/python" - "$demo/project/data/warehouse.duckdb" <<'PY'
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print("== warehouse", sys.argv[1])
for schema, table in con.sql("select table_schema, table_name from information_schema.tables "
                             "where table_schema in ('marts','staging','snapshots') order by 1, 2").fetchall():
    print(f"  {schema}.{table}: {con.sql(f'select count(*) from {schema}.{table}').fetchall()[0][0]} rows")
top = con.sql("select full_name, order_count, lifetime_value from marts.customer_lifetime_value "
              "order by lifetime_value desc limit 3").fetchall()
print("  top customers:", top)
PY
elapsed=$(awk -v s="$started" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
echo "demo finished in $elapsed s (after the install): project in $demo/project, logs in $demo"
