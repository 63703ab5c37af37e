"""The pool listener against a real Airflow metadata database (SQLite): it creates the writer pool once,
leaves an existing one as configured, and a component that loses the race to create it (the scheduler
and the DAG processor start together; seen in a test's log as a UNIQUE constraint error) takes the
other's pool instead of failing."""

from __future__ import annotations

import subprocess
import textwrap

from tests.conftest import BIN, airflow_env

SCRIPT = textwrap.dedent("""
    import sys
    from airflow.models.pool import Pool
    from airflow.utils.session import create_session
    from dango_provider.plugins.pool_listener import ensure_pool

    name = sys.argv[1]
    original = Pool.create_or_update_pool

    def the_other_component_first(pool_name, slots, description, include_deferred, *, session):
        # the other component inserts and commits between this one's check and its insert
        with create_session() as other:
            other.add(Pool(pool=pool_name, slots=1, description="theirs", include_deferred=False))
        session.add(Pool(pool=pool_name, slots=slots, description=description, include_deferred=False))

    Pool.create_or_update_pool = staticmethod(the_other_component_first)
    print("raced", ensure_pool(name, 3))
    Pool.create_or_update_pool = original
    print("again", ensure_pool(name, 3))
    with create_session() as session:
        pool = Pool.get_pool(name, session=session)
        print("pool", pool.slots, pool.description)
""")


def test_the_component_that_loses_the_race_to_create_the_pool_takes_the_others(airflow_home):
    out = subprocess.run([str(BIN / "python"), "-c", SCRIPT, "dango_race_pool"], env=airflow_env(airflow_home),
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    lines = [line for line in out.stdout.splitlines() if line.startswith(("raced", "again", "pool"))]
    assert lines == ["raced False", "again False", "pool 1 theirs"], out.stdout[-2000:]
