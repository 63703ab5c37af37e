"""Metabase as the BI reader of the serving copy: pinned versions, REST client and idempotent provisioning.

Nothing here imports Airflow: the operator (``operators/metabase.py``) and the ``dango metabase`` command
read the Airflow connection and hand plain settings to this package.
"""
