"""Run ``airflow dags test`` for several DAGs, one after another, in one Python process.

Each DAG goes through Airflow's own command (its CLI parser and ``dags test`` function), so each run is
what ``airflow dags test <dag_id>`` does; the process start, Airflow's imports and its in-process
execution API are paid once instead of once per DAG. Progress lines go to file descriptor 3 when it is
open (``3>&1`` in a shell), Airflow's log to stdout/stderr. Stops at the first DAG run that fails.

Usage: python scripts/dags_test.py DAG_ID [DAG_ID ...]
"""

from __future__ import annotations

import os
import sys
import time


def progress_stream():
    try:
        return os.fdopen(3, "w", buffering=1)
    except OSError:
        return sys.stderr


def main(dag_ids: list[str]) -> int:
    from airflow.cli.cli_parser import get_parser
    from airflow.exceptions import AirflowException

    out = progress_stream()
    parser = get_parser()
    for dag_id in dag_ids:
        print(f"== airflow dags test {dag_id}", file=out)
        started = time.monotonic()
        args = parser.parse_args(["dags", "test", dag_id])
        try:
            args.func(args)
        except SystemExit as exc:  # the command's way of saying the run failed
            print(f"  {dag_id}: {exc.code or 'failed'}", file=out)
            return 1
        except AirflowException as exc:  # no such DAG, or its file failed to parse
            print(f"  {dag_id}: {exc}", file=out)
            return 1
        print(f"  {dag_id}: success in {time.monotonic() - started:.1f} s", file=out)
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1:]))
