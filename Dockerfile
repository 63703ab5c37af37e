# The Airflow image of docker-compose.yaml: Airflow 3.3 with dango-provider, installed from uv.lock with
# uv exactly as scripts/test.sh does (plus the postgres, ner, celery and ducklake extras). Everything is installed at
# build time; at run time nothing is downloaded (dlt and Cosmos telemetry, DuckDB extension
# auto-install and `dbt deps` are off in the provider; Scarf and analytics are off below).
FROM python:3.11-slim-bookworm

ARG UV_VERSION=0.13.8
ARG AIRFLOW_UID=50000

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/dango/.venv \
    PATH=/opt/dango/.venv/bin:$PATH \
    AIRFLOW_HOME=/opt/airflow \
    SCARF_NO_ANALYTICS=true \
    DO_NOT_TRACK=true

# curl: the compose healthchecks
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/* \
    && python -m pip install --no-cache-dir --disable-pip-version-check uv==${UV_VERSION}

WORKDIR /opt/dango
# dependencies first (a layer that changes only with the lock), then the project itself
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-install-project --extra postgres --extra ner --extra celery --extra ducklake
COPY dango_provider ./dango_provider
COPY dbt ./dbt
COPY include/data ./include/data
COPY .dango/sources.yml ./.dango/sources.yml
RUN uv sync --frozen --no-editable --extra postgres --extra ner --extra celery --extra ducklake \
    && airflow version

# the Airflow user of the official image (uid 50000, group 0); AIRFLOW_HOME group-writable so that
# another uid in group 0 (docker-compose.yaml's AIRFLOW_UID) can run it too
RUN useradd --uid ${AIRFLOW_UID} --gid 0 --home-dir ${AIRFLOW_HOME} --create-home --shell /bin/bash airflow \
    && mkdir -p ${AIRFLOW_HOME}/logs ${AIRFLOW_HOME}/project \
    && chown -R ${AIRFLOW_UID}:0 ${AIRFLOW_HOME} \
    && chmod -R g+rwX ${AIRFLOW_HOME}
USER ${AIRFLOW_UID}
WORKDIR ${AIRFLOW_HOME}
EXPOSE 8080
CMD ["airflow", "version"]
