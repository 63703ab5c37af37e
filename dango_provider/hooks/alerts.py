"""Alerts on a failed ingest, a drift block, a PII block and a stale source, delivered through Airflow's
own notifiers (``SlackWebhookNotifier`` for Slack, ``HttpNotifier`` for webhooks, ``SmtpNotifier`` for
e-mail) with the destinations' credentials in Airflow connections.

The text of an alert carries an error line, which may quote data: it is never rendered as a template
(``notify`` is called, not the notifier itself, which would render its fields with Jinja), it is HTML
escaped in e-mail, escaped for Slack (whose ``<...>`` are links and mentions such as ``<!channel>``), and
URL credentials are replaced by ``***``. A destination that cannot be reached is
logged as a warning naming it and never changes the outcome of the task that sent the alert.
"""

from __future__ import annotations

import html
import logging
from datetime import UTC, datetime
from typing import Any

from dango_provider.config.model import Alert, effective_alerts
from dango_provider.core.secret_text import scrub_url_credentials

log = logging.getLogger(__name__)
_SILENT = logging.getLogger(f"{__name__}.http_hook")
_SILENT.disabled = True

TITLES = {
    "failed": "ingest failed",
    "drift_block": "schema change blocked",
    "pii_block": "personal data blocked",
    "stale": "source stale",
}


def alert_payload(event: str, source: str, detail: str, context: Any) -> dict[str, Any]:
    """The JSON a webhook receives; ``text`` is the whole message in one line (Slack shows it)."""
    ti = context.get("ti") if context else None
    dag_id = getattr(ti, "dag_id", None)
    run_id = context.get("run_id") if context else None
    detail = scrub_url_credentials(detail.strip().splitlines()[0] if detail.strip() else "")
    log_url = getattr(ti, "log_url", None)
    where = f" ({dag_id} run {run_id})" if dag_id else ""
    text = f"[dango] {TITLES[event]}: source '{source}'{where}: {detail}" + (f" - log: {log_url}" if log_url else "")
    return {"text": text, "event": event, "source": source, "detail": detail, "dag_id": dag_id, "run_id": run_id,
            "task_id": getattr(ti, "task_id", None), "log_url": log_url,
            "at": datetime.now(UTC).isoformat(timespec="seconds")}


def slack_escaped(text: str) -> str:
    """``text`` shown as written in Slack: its control characters ``&``, ``<`` and ``>`` escaped, so text
    from data cannot ping a channel (``<!channel>``) or show a link under other words (``<url|words>``)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _notifier(alert: Alert, payload: dict[str, Any]):
    if alert.slack is not None:
        from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

        # the connection's password (the webhook's token) is masked in task logs by Airflow
        return SlackWebhookNotifier(slack_webhook_conn_id=alert.slack, text=slack_escaped(payload["text"]),
                                    unfurl_links=False, unfurl_media=False)
    if alert.webhook is not None:
        from airflow.providers.http.notifications.http import HttpNotifier

        _mask_webhook_url(alert.webhook)
        notifier = HttpNotifier(http_conn_id=alert.webhook, json=payload, headers={"Content-Type": "application/json"})
        # the HTTP hook logs a failed connection's exception object, whose text holds the URL, which no
        # masker can redact (it masks strings): its own log stays silent, send_alerts logs the outcome
        notifier.hook._log = _SILENT
        return notifier
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    subject = f"[dango] {TITLES[payload['event']]}: {payload['source']}"
    body = "<pre>" + html.escape(payload["text"]) + "</pre>"
    return SmtpNotifier(to=alert.email, subject=subject, html_content=body, smtp_conn_id=alert.smtp_conn_id)


def _mask_webhook_url(conn_id: str) -> None:
    """A webhook's URL is its secret (Slack's path carries the token): mask it, and its path alone, in every
    log line of the task, the HTTP hook's own retry messages included."""
    from urllib.parse import urlsplit

    from airflow.sdk import BaseHook
    from airflow.sdk.log import mask_secret

    try:
        host = BaseHook.get_connection(conn_id).host or ""
    except Exception:  # a missing connection fails in notify(), with the reason logged there
        return
    path = urlsplit(host).path
    for secret in (host, path):
        if len(secret) > 4:
            mask_secret(secret)


def _destination(alert: Alert) -> str:
    if alert.slack:
        return f"Slack connection '{alert.slack}'"
    if alert.webhook:
        return f"webhook connection '{alert.webhook}'"
    return f"e-mail through '{alert.smtp_conn_id}'" if alert.smtp_conn_id else \
        "e-mail through the default SMTP connection"


def _reason(exc: Exception) -> str:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return f"{type(exc).__name__}" + (f" (HTTP {status})" if status else "")


def send_alerts(project, source, event: str, detail: str, context: Any, task_log=None) -> int:
    """Send ``event`` for ``source`` to every alert configured for it; return how many were delivered."""
    out = task_log or log
    sent = 0
    for alert in effective_alerts(project.config.defaults, source, event):
        payload = alert_payload(event, source.name, detail, context)
        try:
            _notifier(alert, payload).notify(context)
        except Exception as exc:  # an unreachable destination must not change the task's outcome
            # the error's text may quote the destination's URL, whose path can be its secret (Slack's is)
            out.warning("alert %s for source '%s' not delivered to %s: %s", event, source.name,
                        _destination(alert), _reason(exc))
            continue
        sent += 1
        out.info("alert %s for source '%s' sent to %s", event, source.name, _destination(alert))
    return sent
