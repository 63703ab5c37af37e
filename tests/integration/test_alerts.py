"""Alerts from sources.yml delivered through Airflow's notifiers to local receiving servers: an HTTP server
standing in for a webhook and for Slack's incoming webhooks (the Slack provider's notifier and slack_sdk
post to it) and an SMTP server (aiosmtpd). Real Airflow
(`airflow dags test`), dlt, DuckDB and Presidio. Covers a failed ingest, a drift block, a PII block and a
stale source; a per-source list replacing the defaults; an unreachable destination that changes nothing
and leaks nothing; error text from data that is neither rendered as a template nor as HTML."""

from __future__ import annotations

import json
import threading
import time
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import BIN, airflow_env, make_small_project, run
from tests.deployment import free_port

pytestmark = pytest.mark.slow

HOOK_PATH = "/services/T000/B000/hooktok3n"
SLACK_TOKEN = "T000/B000/slacktok3n"
SOURCES = """\
version: "1.0"
defaults:
  retries: 0
  alerts:
    - webhook: alerts_hook
    - email: [data-team@example.com]
      smtp_conn_id: alerts_smtp
      events: [failed]
    - webhook: dead_hook
      events: [drift_block]
    - slack: alerts_slack
      events: [failed, drift_block]
transform: {governance_timeout: 4s, poll_interval: 1s}
sources:
  - name: orders
    type: csv
    primary_key: order_id
    freshness: {error_after: 1s}
    csv: {directory: data/orders}
  - name: contacts
    type: csv
    primary_key: contact_id
    pii: {policy: block}
    alerts:
      - email: [privacy@example.com]
        smtp_conn_id: alerts_smtp
        events: [pii_block]
    csv: {directory: data/contacts}
"""
CONTACTS = "contact_id,email,note\n" + "".join(
    f"{i},person{i}@example.com,hello\n" for i in range(1, 21))


class Webhook(ThreadingHTTPServer):
    def __init__(self):
        self.posts: list[tuple[str, dict]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(handler):  # noqa: N805
                body = handler.rfile.read(int(handler.headers["Content-Length"]))
                self.posts.append((handler.path, json.loads(body)))
                handler.send_response(200)
                handler.end_headers()
                handler.wfile.write(b"ok")

            def log_message(handler, *args):  # noqa: N805
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


class Mailbox:
    def __init__(self):
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        message = message_from_bytes(envelope.content)
        self.messages.append((envelope.rcpt_tos, message))
        return "250 OK"


def _html(message) -> str:
    return next(part.get_payload(decode=True).decode() for part in message.walk()
                if part.get_content_type() == "text/html")


def _events(webhook: Webhook) -> list[str]:
    return [payload["event"] for path, payload in webhook.posts if path == HOOK_PATH]


def _hook_payloads(webhook: Webhook) -> list[dict]:
    return [payload for path, payload in webhook.posts if path == HOOK_PATH]


def _slack_texts(webhook: Webhook) -> list[str]:
    return [payload["text"] for path, payload in webhook.posts if path == f"/services/{SLACK_TOKEN}"]


def test_alerts_reach_webhook_and_email_through_airflow_notifiers(tmp_path, airflow_home):
    webhook, mailbox = Webhook(), Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        project = make_small_project(tmp_path / "project", SOURCES, {
            "data/orders/a.csv": "order_id,amount,note\n1,10.0,x\n2,20.0,y\n",
            "data/contacts/c.csv": CONTACTS,
        })
        env = airflow_env(
            airflow_home, project,
            AIRFLOW_CONN_ALERTS_HOOK=json.dumps({"conn_type": "http",
                                                 "host": f"http://127.0.0.1:{webhook.server_port}{HOOK_PATH}"}),
            AIRFLOW_CONN_ALERTS_SLACK=json.dumps({"conn_type": "slackwebhook", "password": SLACK_TOKEN,
                                                  "host": f"http://127.0.0.1:{webhook.server_port}/services"}),
            AIRFLOW_CONN_DEAD_HOOK=json.dumps({"conn_type": "http",
                                               "host": f"http://127.0.0.1:{free_port()}/services/T000/B000/deadtok3n"}),
            AIRFLOW_CONN_ALERTS_SMTP=json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": smtp.port,
                                                 "extra": {"disable_ssl": True, "disable_tls": True,
                                                           "from_email": "dango@example.com"}}))
        validate = run([str(BIN / "dango"), "validate", str(project)], env).stdout
        assert "credentials: alerts: Airflow connection alerts_hook: defined" in validate
        assert "credentials: alerts: Airflow connection alerts_smtp: defined" in validate
        assert "credentials: alerts: Airflow connection alerts_slack: defined" in validate
        unset = run([str(BIN / "dango"), "validate", str(project)],
                    {k: v for k, v in env.items() if k != "AIRFLOW_CONN_DEAD_HOOK"}).stdout
        assert "credentials: alerts: Airflow connection dead_hook: not defined (`airflow connections add` or " \
               "AIRFLOW_CONN_DEAD_HOOK)" in unset

        airflow = str(BIN / "airflow")
        run([airflow, "dags", "test", "dango_ingest__orders"], env)
        assert webhook.posts == [] and mailbox.messages == [], "a good load sends nothing"

        # stale: loaded more than error_after ago, the transform's freshness gate times out
        time.sleep(2)
        stale = run([airflow, "dags", "test", "dango_transform"], env, check=False)
        assert stale.returncode != 0
        assert _events(webhook) == ["stale"]
        path, payload = webhook.posts[-1]
        assert path == HOOK_PATH
        assert payload["source"] == "orders" and payload["dag_id"] == "dango_transform"
        assert payload["text"].startswith("[dango] source stale: source 'orders' (dango_transform run ")
        assert "source 'orders' last loaded" in payload["detail"]
        assert mailbox.messages == [], "the e-mail alert is only on failed"

        # drift block: the webhook hears it; the unreachable one is a warning without its URL, the load succeeds
        (project / "data" / "orders" / "b.csv").write_text("order_id,amount\n3,30.0\n")
        drift = run([airflow, "dags", "test", "dango_ingest__orders"], env)
        log = drift.stdout + drift.stderr
        assert _events(webhook) == ["stale", "drift_block"]
        payload = _hook_payloads(webhook)[-1]
        assert "note" in payload["detail"] and "dango drift accept orders" in payload["detail"]
        assert payload["dag_id"] == "dango_ingest__orders" and payload["task_id"] == "schema_drift"
        assert "alert drift_block for source 'orders' not delivered to webhook connection 'dead_hook': " \
               "ConnectionError" in log
        assert "alert drift_block for source 'orders' sent to webhook connection 'alerts_hook'" in log
        assert "alert drift_block for source 'orders' sent to Slack connection 'alerts_slack'" in log
        assert "deadtok3n" not in log and "hooktok3n" not in log and "slacktok3n" not in log
        [slack_drift] = _slack_texts(webhook)
        assert slack_drift.startswith("[dango] schema change blocked: source 'orders' (dango_ingest__orders run ")

        # a failed ingest whose error quotes a file name written as a template and as HTML
        bad = project / "data" / "orders" / "c<b>{{ 7 * 7 }}.csv"
        bad.write_text("order_id,amount\n4,40.0,extra\n")
        failed = run([airflow, "dags", "test", "dango_ingest__orders"], env, check=False)
        assert failed.returncode != 0
        assert _events(webhook) == ["stale", "drift_block", "failed"]
        payload = _hook_payloads(webhook)[-1]
        assert payload["task_id"] == "extract"
        assert f"{bad}:2: ragged row" in payload["detail"], "the error's own text, not rendered (no 49)"
        [(recipients, message)] = mailbox.messages
        assert recipients == ["data-team@example.com"]
        assert message["Subject"] == "[dango] ingest failed: orders"
        body = _html(message)
        assert "c&lt;b&gt;{{ 7 * 7 }}.csv:2: ragged row" in body and "<b>" not in body
        # Slack gets the same line, its link and mention brackets escaped, not rendered either
        slack_failed = _slack_texts(webhook)[-1]
        assert slack_failed.startswith("[dango] ingest failed: source 'orders'")
        assert "c&lt;b&gt;{{ 7 * 7 }}.csv:2: ragged row" in slack_failed and "<b>" not in slack_failed
        assert "slacktok3n" not in failed.stdout + failed.stderr

        # PII block: contacts' own list replaces the defaults, so only the privacy address hears it
        posts_before = len(webhook.posts)
        blocked = run([airflow, "dags", "test", "dango_ingest__contacts"], env, check=False)
        assert blocked.returncode != 0
        assert len(webhook.posts) == posts_before, "neither the defaults' webhook nor their Slack hears it"
        recipients, message = mailbox.messages[-1]
        assert recipients == ["privacy@example.com"]
        assert message["Subject"] == "[dango] personal data blocked: contacts"
        assert "personal data found and the PII policy is block: contacts.email (EMAIL_ADDRESS)" in _html(message)
        assert len(mailbox.messages) == 2
    finally:
        smtp.stop()
        webhook.shutdown()
