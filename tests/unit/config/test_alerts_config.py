"""``alerts:`` in sources.yml: per source or in defaults, one destination each, errors with file:line:field;
the payload an alert carries (first line, URL credentials hidden, text kept literal)."""

from __future__ import annotations

import textwrap

import pytest

from dango_provider.config.loader import load_project
from dango_provider.config.model import effective_alerts
from dango_provider.exceptions import DangoConfigError
from dango_provider.hooks.alerts import alert_payload, slack_escaped
from tests.unit.helpers import REPO, line_of

TEXT = """\
defaults:
  alerts:
    - webhook: team_hook
    - email: [ops@example.com]
      events: [failed, stale]
sources:
  - name: orders
    type: csv
    csv: {directory: data/orders}
  - name: people
    type: csv
    alerts:
      - email: [privacy@example.com]
        smtp_conn_id: mail
        events: [pii_block]
    csv: {directory: data/people}
  - name: quiet
    type: csv
    alerts: []
    csv: {directory: data/quiet}
"""


def test_a_sources_list_replaces_the_defaults_and_on_picks_the_events(write_sources, project_dir):
    write_sources(TEXT)
    project = load_project(project_dir)
    defaults = project.config.defaults

    def routes(name: str, event: str) -> list[str]:
        return [a.webhook or ",".join(a.email or []) for a in effective_alerts(defaults, project.source(name), event)]

    assert routes("orders", "failed") == ["team_hook", "ops@example.com"]
    assert routes("orders", "drift_block") == ["team_hook"]
    assert routes("people", "pii_block") == ["privacy@example.com"]
    assert routes("people", "failed") == []
    assert routes("quiet", "failed") == [], "an empty list turns the defaults off for that source"


@pytest.mark.parametrize("entry, message", [
    ("{webhook: a, email: [x@example.com]}", "an alert names exactly one destination"),
    ("{slack: a, webhook: b}", "an alert names exactly one destination"),
    ("{slack: a, smtp_conn_id: m}", "smtp_conn_id belongs to an email alert"),
    ("{events: [failed]}", "an alert names exactly one destination"),
    ("{webhook: a, events: [broken]}", "Input should be 'failed', 'drift_block', 'pii_block' or 'stale'"),
    ("{webhook: a, events: []}", "events: name at least one event"),
    ("{webhook: a, endpoint: /x}", "unknown key 'endpoint'"),
    ("{webhook: a, chanel: x}", "unknown key 'chanel'"),
])
def test_a_bad_alert_names_its_line(write_sources, project_dir, entry, message):
    text = f"sources:\n  - name: orders\n    type: csv\n    alerts:\n      - {entry}\n    csv: {{directory: d}}\n"
    path = write_sources(text)
    with pytest.raises(DangoConfigError) as info:
        load_project(project_dir)
    error = info.value
    errors = getattr(error, "errors", [error])
    assert any(e.file == str(path) and e.line == line_of(text, entry) and e.field.startswith("sources[0].alerts[0]")
               and message in e.message for e in errors), [str(e) for e in errors]


def test_the_payload_is_one_literal_line_without_url_credentials():
    class TI:
        dag_id, task_id, log_url = "dango_ingest__orders", "extract", "http://airflow/log"

    payload = alert_payload("failed", "orders",
                            "cannot reach postgresql://etl:s3cret@db/x: {{ 7 * 7 }} <b>\nTraceback ...",
                            {"ti": TI(), "run_id": "manual__1"})
    assert payload["detail"] == "cannot reach postgresql://***@db/x: {{ 7 * 7 }} <b>"
    assert payload["text"] == ("[dango] ingest failed: source 'orders' (dango_ingest__orders run manual__1): "
                               "cannot reach postgresql://***@db/x: {{ 7 * 7 }} <b> - log: http://airflow/log")
    assert (payload["event"], payload["task_id"], payload["run_id"]) == ("failed", "extract", "manual__1")


def test_readmes_alerts_example_loads(write_sources, project_dir):
    readme = (REPO / "README.md").read_text()
    block = readme[readme.index("  ```yaml\n  defaults:\n    alerts:"):]
    block = textwrap.dedent(block[len("  ```yaml\n"):block.index("  ```\n", 10)])
    write_sources(block + "sources:\n  - name: orders\n    type: csv\n    csv: {directory: data/orders}\n")
    project = load_project(project_dir)
    [slack, hook, mail] = project.config.defaults.alerts
    assert (slack.slack, slack.connection) == ("slack_alerts", "slack_alerts")
    assert (hook.webhook, hook.events) == ("ops_hook", ["failed", "drift_block", "pii_block", "stale"])
    assert (mail.email, mail.smtp_conn_id, mail.events) == (["data-team@example.com"], "smtp_default",
                                                            ["failed", "pii_block"])


def test_text_for_slack_shows_as_written():
    """Slack reads ``<...>`` as links and mentions: data in an error line can neither ping a channel nor
    disguise a link."""
    assert slack_escaped("file <!channel> & <http://evil.example|report.csv>") == \
        "file &lt;!channel&gt; &amp; &lt;http://evil.example|report.csv&gt;"
