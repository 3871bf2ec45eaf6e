"""The Grafana dashboard: valid JSON with the expected panels, shipped unchanged in the sidecar
ConfigMap, and every query names only metrics that vidgen really exports — collected from the
operator's and the bot's prometheus-client registries, not from a hand-kept list."""

from __future__ import annotations

import json
import re

import pytest
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.metrics_core import Metric

from tests.chart.render import ALL_ON, CHART, one, render

DASHBOARD = json.loads((CHART / "dashboards" / "vidgen.json").read_text())

KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")


def metric_names(expr: str) -> set[str]:
    """Names of the metrics a PromQL expression selects (functions, keywords, label names and
    grouping clauses left out)."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    s = re.sub(r"\{[^}]*\}", "", s)  # label matchers
    s = re.sub(r"\[[^\]]*\]", "", s)  # range and subquery selectors
    s = GROUPING.sub("", s)
    names = set()
    for m in re.finditer(r"(?<![\w.$])[A-Za-z_:][A-Za-z0-9_:]*", s):
        token = m.group(0)
        if s[m.end() :].lstrip().startswith("("):
            continue  # a function or an aggregation
        if token.lower() not in KEYWORDS:
            names.add(token)
    return names


def test_metric_names_parser() -> None:
    assert metric_names(
        'histogram_quantile(0.9, sum by (le) (rate(vidgen_generation_duration_seconds_bucket{namespace=~"$namespace"}[$__rate_interval])))'
    ) == {"vidgen_generation_duration_seconds_bucket"}
    assert metric_names("max(a_total) > 0 and on (namespace) sum by (namespace) (increase(b[5m])) == 0") == {
        "a_total",
        "b",
    }
    assert metric_names('sum(x{phase="Failed"}) / sum(y) * 60') == {"x", "y"}


def sample_names(family: Metric) -> set[str]:
    """Sample names a metric family produces, whether or not it has children yet."""
    if family.type == "counter":
        return {f"{family.name}_total", f"{family.name}_created"}
    if family.type == "histogram":
        return {f"{family.name}_{s}" for s in ("bucket", "sum", "count", "created")}
    if family.type == "summary":
        return {family.name, f"{family.name}_sum", f"{family.name}_count", f"{family.name}_created"}
    return {family.name}


def exported_metrics() -> set[str]:
    """What the operator (the registry of vidgen.operator.metrics.Metrics) and the bot
    (the metrics of vidgen.bot.metrics) export."""
    from vidgen.bot import metrics as bot_metrics
    from vidgen.operator.metrics import Metrics

    families = list(Metrics().registry.collect())
    for value in vars(bot_metrics).values():
        if isinstance(value, MetricWrapperBase):
            families += value.describe()
    return set().union(*(sample_names(f) for f in families))


def queries() -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target and every query variable."""
    out = []
    for panel in DASHBOARD["panels"]:
        for target in panel.get("targets", []):
            out.append((f"panel {panel['id']} {panel['title']!r}", target["expr"]))
    for var in DASHBOARD["templating"]["list"]:
        if var["type"] == "query":
            m = re.fullmatch(r"label_values\((\w+),\s*\w+\)", var["definition"])
            assert m, var["definition"]
            out.append((f"variable {var['name']}", m.group(1)))
    return out


def test_dashboard_structure() -> None:
    assert DASHBOARD["uid"] == "vidgen-overview" and DASHBOARD["title"] == "vidgen"
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))
    for panel in DASHBOARD["panels"]:
        assert set(panel["gridPos"]) == {"h", "w", "x", "y"}
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        if panel["type"] != "row":
            assert panel["targets"], panel["title"]
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            for target in panel["targets"]:
                assert 'namespace=~"$namespace"' in target["expr"], target["expr"]
    variables = {v["name"] for v in DASHBOARD["templating"]["list"]}
    assert variables == {"datasource", "namespace"}


def test_every_query_names_only_exported_metrics() -> None:
    exported = exported_metrics()
    assert "vidgen_queue_depth" in exported and "vidgen_bot_updates_total" in exported
    unknown = []
    for where, expr in queries():
        names = metric_names(expr)
        assert names, f"{where}: no metric in {expr}"
        # `up` is Prometheus's own series for every scrape target (the operator down panel).
        unknown += [f"{where}: {name}" for name in sorted(names - exported - {"up"})]
    assert unknown == []


@pytest.mark.parametrize(
    ("topic", "metrics"),
    [
        ("throughput", {"vidgen_generation_transitions_total", "vidgen_bot_generations_requested_total"}),
        ("queue", {"vidgen_queue_depth", "vidgen_admissions_total"}),
        ("running vs limit", {"vidgen_running_jobs", "vidgen_concurrency_limit", "vidgen_concurrency_max"}),
        ("durations", {"vidgen_generation_duration_seconds_bucket"}),
        ("errors by class", {"vidgen_generation_errors_total", "vidgen_retries_total"}),
        ("refunds", {"vidgen_refunds_total"}),
        ("deliveries", {"vidgen_deliveries_total", "vidgen_delivery_failures_total"}),
        ("operator health", {"up", "vidgen_last_admission_timestamp_seconds"}),
    ],
)
def test_dashboard_covers(topic: str, metrics: set[str]) -> None:
    used = set().union(*(metric_names(expr) for _, expr in queries()))
    assert metrics <= used, topic


def test_errors_and_refunds_are_split_by_class() -> None:
    for _, expr in queries():
        if "vidgen_generation_errors_total" in expr or "vidgen_refunds_total[$__rate_interval]" in expr:
            if "by (error_class)" in expr:
                break
    else:
        pytest.fail("no panel splits errors by error_class")


def test_configmap_ships_the_file_unchanged() -> None:
    configmap = one(render(ALL_ON), "ConfigMap", "vidgen-dashboard")
    assert json.loads(configmap["data"]["vidgen.json"]) == DASHBOARD
