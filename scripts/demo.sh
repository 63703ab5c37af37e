#!/usr/bin/env bash
# Run the demo end to end on a fresh machine: install from the lock, scaffold the demo project,
# load its four CSV sources with dlt into DuckDB and build the dbt project through Cosmos,
# all with `airflow dags test` on Airflow's embedded SQLite database.
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
for source in customers products orders order_lines; do
  echo "== airflow dags test dango_ingest__$source"
  "$bin/airflow" dags test "dango_ingest__$source" >"$demo/ingest_$source.log" 2>&1 \
    || { tail -40 "$demo/ingest_$source.log"; exit 1; }
  grep -E "rows (normalized|loaded)" "$demo/ingest_$source.log" | sed 's/.*\] source/  source/; s/ \[airflow.*//'
done
echo "== airflow dags test dango_transform"
"$bin/airflow" dags test dango_transform >"$demo/transform.log" 2>&1 || { grep -E "ERROR|FAIL|Error" "$demo/transform.log" | tail -30; exit 1; }
grep -cE "Done. PASS=" "$demo/transform.log" | sed 's/^/  dbt invocations passed: /'
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
