"""A one-source project for the transform's failure tests: a ``payments`` CSV source and a mart over it."""

from __future__ import annotations

SOURCES = """\
version: "1.0"
defaults: {retries: 0}
sources:
  - name: payments
    type: csv
    primary_key: payment_id
    csv: {directory: data/payments}
"""

FILES = {
    "data/payments/p1.csv": "payment_id,amount\n1,5.0\n2,-3.0\n3,7.5\n",
    "dbt/models/marts/payment_totals.sql":
        "select count(*) as payments, sum(amount) as total from {{ ref('stg_payments__payments') }}\n",
}
