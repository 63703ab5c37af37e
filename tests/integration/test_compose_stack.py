"""docker-compose.yaml, checked without a Docker engine.

1. ``docker-compose config`` (PyPI's docker-compose 1.29.2 in a throw-away venv cached under
   ``~/.cache/dango-test``) validates and renders the file with secrets from an env file; the test
   checks the services, commands, volumes, health checks and pinned versions the file promises, and
   that it refuses to render without the secrets.
2. Every Airflow process the file starts (airflow-init's script, api-server, scheduler, dag-processor,
   triggerer) runs here with the rendered command line and environment, only container paths and host
   names mapped: a temporary AIRFLOW_HOME instead of /opt/airflow, a PostgreSQL database on 127.0.0.1
   instead of the ``postgres`` service, a free port for the api-server. Each must pass the health check
   the file declares for it, then all are stopped and no process of theirs may remain.
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from base64 import urlsafe_b64encode
from pathlib import Path

import httpx
import psycopg2
import pytest
import yaml

from dango_provider.metabase.versions import METABASE_DUCKDB_DRIVER_VERSION, METABASE_VERSION
from tests.deployment import free_redis_db, redis_client
from tests.pg import temporary_database

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yaml"
CACHE = Path.home() / ".cache" / "dango-test"
BIN = Path(sys.executable).parent
AIRFLOW_SERVICES = ["airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"]
WORKERS = ["airflow-worker", "airflow-worker-warehouse"]
CONTAINER_HOME = "/opt/airflow"
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


def docker_compose() -> Path:
    """docker-compose 1.29.2 (validates and renders a compose file without an engine), installed once."""
    venv = CACHE / "docker-compose-1.29.2"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / "docker-compose-1.29.2.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / ".complete").exists():
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
            constraints = CACHE / "docker-compose-constraints.txt"
            constraints.write_text("cython<3\n")  # PyYAML 5.4 (docker-compose needs <6) builds only with Cython 0.29
            subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                            "docker-compose==1.29.2"], check=True, timeout=900,
                           env={**os.environ, "PIP_CONSTRAINT": str(constraints)})
            (venv / ".complete").write_text("1.29.2")
    return venv / "bin" / "docker-compose"


def env_example_keys() -> list[str]:
    return [line.split("=", 1)[0] for line in (REPO / ".env.example").read_text().splitlines()
            if line and not line.startswith("#") and "=" in line]


def generated_secrets() -> dict[str, str]:
    return {
        "POSTGRES_PASSWORD": secrets.token_urlsafe(16),
        "AIRFLOW_FERNET_KEY": urlsafe_b64encode(os.urandom(32)).decode(),
        "AIRFLOW_JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW_API_SECRET_KEY": secrets.token_urlsafe(32),
        "AIRFLOW_ADMIN_PASSWORD": "adm-" + secrets.token_urlsafe(12),
        "METABASE_ADMIN_EMAIL": "owner@example.com",
        "METABASE_ADMIN_PASSWORD": "mb-" + secrets.token_urlsafe(12) + "7",
        "METABASE_ENCRYPTION_SECRET_KEY": secrets.token_urlsafe(32),
    }


def render(env_file: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(docker_compose()), "-f", str(COMPOSE), "--env-file", str(env_file), "config"],
                          capture_output=True, text=True, timeout=120, cwd=REPO)


def rendered(directory: Path, **settings: str) -> tuple[dict, dict[str, str]]:
    values = generated_secrets()
    env_file = directory / ".env"
    env_file.write_text("".join(f"{key}={value}\n" for key, value in {**values, **settings}.items()))
    proc = render(env_file)
    assert proc.returncode == 0, proc.stderr
    return yaml.safe_load(proc.stdout), values


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """(rendered compose config, the secrets in its env file)."""
    return rendered(tmp_path_factory.mktemp("compose"))


@pytest.fixture(scope="module")
def celery_stack(tmp_path_factory):
    """The same with AIRFLOW_EXECUTOR=CeleryExecutor (used with ``--profile celery``)."""
    return rendered(tmp_path_factory.mktemp("compose-celery"), AIRFLOW_EXECUTOR="CeleryExecutor")


def unescape(text: str) -> str:
    """What the container runs: compose turns ``$$`` into ``$``."""
    return text.replace("$$", "$")


def shell_of(healthcheck: dict) -> str:
    kind, command = healthcheck["test"]
    assert kind == "CMD-SHELL"
    return unescape(command)


# --- 1. the file -----------------------------------------------------------------------------------


def test_the_file_validates_and_declares_the_stack(stack):
    config, values = stack
    services = config["services"]
    assert set(services) == {"postgres", "airflow-init", *AIRFLOW_SERVICES, "metabase", "redis", *WORKERS}
    assert {name for name, service in services.items() if service.get("profiles")} == {"redis", *WORKERS}
    assert services["postgres"]["image"].startswith("postgres:")
    assert "pg_isready" in shell_of(services["postgres"]["healthcheck"])

    commands = {name: services[name]["command"] for name in AIRFLOW_SERVICES}
    assert commands == {"airflow-apiserver": ["airflow", "api-server"], "airflow-scheduler": ["airflow", "scheduler"],
                        "airflow-dag-processor": ["airflow", "dag-processor"],
                        "airflow-triggerer": ["airflow", "triggerer"]}
    init = unescape(services["airflow-init"]["command"][2])
    for step in ("airflow db migrate", "dango init", "airflow pools set dango_duckdb 1",
                 "airflow connections add metabase_default"):
        assert step in init
    for name in ["airflow-init", *AIRFLOW_SERVICES]:
        service = services[name]
        assert service["build"] == {"context": str(REPO), "dockerfile": "Dockerfile"}
        assert service["image"] == "dango-airflow:0.1.0"
        env = service["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == (
            f"postgresql+psycopg2://airflow:{values['POSTGRES_PASSWORD']}@postgres:5432/airflow")
        assert env["AIRFLOW__CORE__FERNET_KEY"] == values["AIRFLOW_FERNET_KEY"]
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == values["AIRFLOW_JWT_SECRET"]
        assert env["AIRFLOW__DANGO__PROJECT_DIR"] == f"{CONTAINER_HOME}/project"
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] == f"{CONTAINER_HOME}/project/dags"
        # README's adoption step 4 (decision 0022)
        assert env["AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME"] == "0.2"
        assert env["AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL"] == "1"
        assert f"{REPO / 'project'}:{CONTAINER_HOME}/project:rw" in service["volumes"]
        assert f"airflow-home:{CONTAINER_HOME}:rw" in service["volumes"]
        assert services[name]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    for name in AIRFLOW_SERVICES:
        assert services[name]["depends_on"]["airflow-init"] == {"condition": "service_completed_successfully"}
        assert services[name]["healthcheck"]["test"][0] == "CMD-SHELL"
        # only the one-shot init sees the admin and Metabase passwords
        assert not {"AIRFLOW_ADMIN_PASSWORD", "METABASE_ADMIN_PASSWORD"} & set(services[name]["environment"])
    assert set(config["volumes"]) == {"postgres-db", "airflow-home"}


def test_the_celery_profile_adds_redis_and_workers_with_their_own_disk(celery_stack):
    config, values = celery_stack
    services = config["services"]
    assert all(services[name]["profiles"] == ["celery"] for name in ("redis", *WORKERS))
    assert services["redis"]["image"].startswith("redis:7")
    assert "redis-cli ping" in shell_of(services["redis"]["healthcheck"])
    assert services["airflow-worker"]["command"] == ["airflow", "celery", "worker", "--queues", "default"]
    assert services["airflow-worker-warehouse"]["command"] == [
        "airflow", "celery", "worker", "--queues", "default,duckdb_file"]
    for name in ["airflow-init", *AIRFLOW_SERVICES, *WORKERS]:
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://redis:6379/0"
        assert env["AIRFLOW__DANGO__DUCKDB_QUEUE"] == "duckdb_file"
    for name in WORKERS:
        worker = services[name]
        assert worker["environment"]["AIRFLOW__DANGO__WORK_DIR"] == "/tmp/dango-work"  # not a shared volume
        assert f"{REPO / 'project'}:{CONTAINER_HOME}/project:rw" in worker["volumes"]
        assert worker["depends_on"]["redis"] == {"condition": "service_healthy"}
        assert "inspect ping" in shell_of(worker["healthcheck"])
        assert not {"AIRFLOW_ADMIN_PASSWORD", "METABASE_ADMIN_PASSWORD"} & set(worker["environment"])


def test_metabase_runs_the_pinned_versions_on_a_glibc_java_image_and_reads_the_serving_copy_read_only(stack):
    config, values = stack
    metabase = config["services"]["metabase"]
    assert metabase["build"]["context"] == str(REPO / "include" / "metabase")
    assert metabase["build"]["args"] == {"METABASE_VERSION": METABASE_VERSION,
                                         "METABASE_DUCKDB_DRIVER_VERSION": METABASE_DUCKDB_DRIVER_VERSION}
    assert metabase["image"] == f"dango-metabase:{METABASE_VERSION}-duckdb{METABASE_DUCKDB_DRIVER_VERSION}"
    dockerfile = (REPO / "include" / "metabase" / "Dockerfile").read_text()
    assert re.search(r"^FROM eclipse-temurin:21-jre-jammy$", dockerfile, re.M)
    assert f"ARG METABASE_VERSION={METABASE_VERSION}\n" in dockerfile
    assert f"ARG METABASE_DUCKDB_DRIVER_VERSION={METABASE_DUCKDB_DRIVER_VERSION}\n" in dockerfile
    assert "plugins/duckdb.metabase-driver.jar" in dockerfile and "MB_PLUGINS_DIR=/home/metabase/plugins" in dockerfile
    assert metabase["volumes"] == [f"{REPO / 'project' / 'data' / 'serving'}:{CONTAINER_HOME}/project/data/serving:ro"]
    assert metabase["environment"]["MB_DB_PASS"] == values["POSTGRES_PASSWORD"]
    assert metabase["environment"]["MB_ANON_TRACKING_ENABLED"] == "false"
    assert metabase["environment"]["MB_CHECK_FOR_UPDATES"] == "false"
    assert "/api/health" in shell_of(metabase["healthcheck"])
    assert metabase["depends_on"]["airflow-init"] == {"condition": "service_completed_successfully"}


def test_secrets_come_only_from_the_env_file(tmp_path):
    text = COMPOSE.read_text()
    referenced = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", text))
    assert referenced <= set(env_example_keys()), referenced - set(env_example_keys())
    for secret in generated_secrets():
        assert re.search(r"\$\{" + secret + r":\?set " + secret + r" in \.env\}", text), f"{secret} is not required"
    example = dict(line.split("=", 1) for line in (REPO / ".env.example").read_text().splitlines()
                   if line and not line.startswith("#"))
    assert all(example[key] in ("generate", "change-me", "change-me-1", "admin@example.com")
               for key in generated_secrets()), "commit placeholders only in .env.example"
    incomplete = tmp_path / "incomplete.env"
    incomplete.write_text("".join(f"{k}={v}\n" for k, v in generated_secrets().items() if k != "AIRFLOW_JWT_SECRET"))
    refused = render(incomplete)
    assert refused.returncode != 0 and "set AIRFLOW_JWT_SECRET in .env" in refused.stderr


def test_the_airflow_image_installs_from_the_lock_at_build_time():
    dockerfile = (REPO / "Dockerfile").read_text()
    uv_version = re.search(r"uv==([\d.]+)", (REPO / "scripts" / "test.sh").read_text()).group(1)
    assert f"ARG UV_VERSION={uv_version}\n" in dockerfile
    assert "COPY pyproject.toml uv.lock README.md ./" in dockerfile
    assert dockerfile.count("uv sync --frozen") == 2 and "--no-editable" in dockerfile
    assert "ENTRYPOINT" not in dockerfile  # compose's commands are the full command lines
    assert "SCARF_NO_ANALYTICS=true" in dockerfile and "DO_NOT_TRACK=true" in dockerfile
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    assert {".env", ".venv", "project", "data"} <= set(ignored)


# --- 2. the processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def local_environment(service: dict, home: Path, database: str, port: int, broker_db: int = 0) -> dict[str, str]:
    """The service's rendered environment with container paths and hosts mapped to this machine."""
    env = {key: str(value).replace(CONTAINER_HOME, str(home)) for key, value in service["environment"].items()}
    if "AIRFLOW__DANGO__WORK_DIR" in env:  # the container's own disk
        env["AIRFLOW__DANGO__WORK_DIR"] = str(home / "container-disk" / "dango-work")
    env.update({
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://postgres@127.0.0.1:5432/{database}",
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:6379/{broker_db}",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://postgres@127.0.0.1:5432/{database}",
        "HOSTNAME": socket.gethostname(),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
    })
    # what the image provides: its PATH (the venv first), a home and a locale
    return {**env, "PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}


def healthy(command: str, env: dict) -> bool:
    return subprocess.run(["bash", "-c", command], env=env, capture_output=True, timeout=120).returncode == 0


def session_processes(sid: int) -> list[str]:
    proc = subprocess.run(["pgrep", "-a", "-s", str(sid)], capture_output=True, text=True)
    return proc.stdout.splitlines()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("profile", ["default", "celery"])
def test_every_airflow_process_of_the_file_starts_and_becomes_healthy(request, tmp_path, profile):
    """With the Celery profile also both workers, against Redis on 127.0.0.1 as the broker."""
    config, values = request.getfixturevalue("celery_stack" if profile == "celery" else "stack")
    services = config["services"]
    components = AIRFLOW_SERVICES + (WORKERS if profile == "celery" else [])
    broker_db = free_redis_db() if profile == "celery" else 0
    home = tmp_path / "opt-airflow"
    home.mkdir()
    logs = tmp_path / "logs"
    logs.mkdir()
    port = free_port()
    started: dict[str, subprocess.Popen] = {}
    with temporary_database("dango_compose") as database:
        try:
            # airflow-init, as the file runs it
            init = services["airflow-init"]
            init_env = local_environment(init, home, database, port, broker_db)
            command = [unescape(part) for part in init["command"]]
            done = subprocess.run(command, env=init_env, capture_output=True, text=True, timeout=300)
            output = done.stdout + done.stderr
            assert done.returncode == 0, output[-6000:]
            assert "airflow-init: database migrated" in done.stdout
            for secret in ("AIRFLOW_ADMIN_PASSWORD", "METABASE_ADMIN_PASSWORD", "AIRFLOW_FERNET_KEY"):
                assert values[secret] not in output, f"airflow-init printed {secret}"
            project = home / "project"
            assert (project / "sources.yml").is_file() and (project / "dags" / "dango_dags.py").is_file()
            assert (project / "data" / "serving").is_dir()
            con = psycopg2.connect(dbname=database, **PG)
            try:
                cur = con.cursor()
                cur.execute("select slots from slot_pool where pool = 'dango_duckdb'")
                assert cur.fetchall() == [(1,)]
                cur.execute("select conn_type, host, port, login, is_encrypted from connection "
                            "where conn_id = 'metabase_default'")
                assert cur.fetchall() == [("generic", "metabase", 3000, values["METABASE_ADMIN_EMAIL"], True)]
            finally:
                con.close()

            # the long-running components, with the file's command lines
            envs = {name: local_environment(services[name], home, database, port, broker_db) for name in components}
            for name in components:
                with open(logs / f"{name}.log", "w") as out:
                    started[name] = subprocess.Popen(services[name]["command"], env=envs[name], stdout=out,
                                                     stderr=subprocess.STDOUT, start_new_session=True)
            pending = set(components)
            deadline = time.monotonic() + 240
            while pending and time.monotonic() < deadline:
                for name in sorted(pending):
                    assert started[name].poll() is None, (
                        f"{name} exited {started[name].returncode}:\n{(logs / f'{name}.log').read_text()[-4000:]}")
                    if healthy(shell_of(services[name]["healthcheck"]), envs[name]):
                        pending.discard(name)
                time.sleep(3)
            assert not pending, "not healthy: " + ", ".join(
                f"{n}\n{(logs / f'{n}.log').read_text()[-3000:]}" for n in sorted(pending))

            # the admin of the file's .env logs in to the api-server
            token = httpx.post(f"http://127.0.0.1:{port}/auth/token", timeout=30,
                               json={"username": "admin", "password": values["AIRFLOW_ADMIN_PASSWORD"]})
            assert token.status_code == 201 and token.json()["access_token"], token.text
            wrong = httpx.post(f"http://127.0.0.1:{port}/auth/token", timeout=30,
                               json={"username": "admin", "password": "not-the-password"})
            assert wrong.status_code == 401
        finally:
            for proc in started.values():
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            for proc in started.values():
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=30)
            left: dict[str, list[str]] = {}
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                left = {name: session_processes(proc.pid) for name, proc in started.items()}
                if not any(left.values()):
                    break
                time.sleep(1)
            for name, proc in started.items():  # never leave one behind, even when the check fails
                if left.get(name):
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            if profile == "celery":
                redis_client(broker_db).flushdb()
    assert not any(left.values()), f"processes left: {left}"
