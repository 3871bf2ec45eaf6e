"""The chart's alerting rules, exactly as rendered, through `promtool check rules` and
`promtool test rules` (tests/chart/alerts.test.yaml: each alert fires and stays quiet on
synthetic series). promtool comes with Debian's `prometheus` package; scripts/test installs it
when apt-get is available."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.chart.render import find, render

HERE = Path(__file__).parent
ALERTS = {
    "VidgenProviderBillingErrors",
    "VidgenProviderAccountRefused",
    "VidgenHighFailureRate",
    "VidgenQueueStuck",
    "VidgenDeliveryFailures",
    "VidgenOperatorDown",
    "VidgenAdmissionStopped",
    "VidgenRefundsSpike",
}
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool is not on PATH (Debian: apt-get install prometheus; scripts/test installs it)",
)


def rules(values: dict[str, Any] | None = None) -> dict[str, Any]:
    base = {"monitoring": {"prometheusRule": {"enabled": True}}}
    if values:
        base["monitoring"]["prometheusRule"].update(values)
    (rule,) = find(render(base), "PrometheusRule")
    spec: dict[str, Any] = rule["spec"]
    return spec


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_every_alert_is_defined_once_and_tested() -> None:
    names = [r["alert"] for g in rules()["groups"] for r in g["rules"]]
    assert sorted(names) == sorted(ALERTS)
    spec = yaml.safe_load((HERE / "alerts.test.yaml").read_text())
    tested = {t["alertname"] for test in spec["tests"] for t in test["alert_rule_test"]}
    assert tested == ALERTS
    # …each both firing and quiet somewhere.
    for name in ALERTS:
        outcomes = {
            bool(t["exp_alerts"])
            for test in spec["tests"]
            for t in test["alert_rule_test"]
            if t["alertname"] == name
        }
        assert outcomes == {True, False}, name


def test_thresholds_come_from_values() -> None:
    text = yaml.safe_dump(
        rules(
            {
                "failureRateThreshold": 0.5,
                "failureRateWindow": "1h",
                "queueStuckMinutes": 30,
                "refundsThreshold": 42,
                "operatorDownMinutes": 7,
                "alertLabels": {"team": "video"},
            }
        )
    )
    assert "[1h]" in text and ") > 0.5" in text
    assert "increase(vidgen_admissions_total[30m])" in text
    assert "> 42" in text and "for: 7m" in text
    assert text.count("team: video") == len(ALERTS)


@needs_promtool
def test_rules_pass_promtool_check(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules()))
    result = promtool("check", "rules", "rules.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in result.stdout


@needs_promtool
def test_alerts_fire_and_stay_quiet(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules()))
    shutil.copy(HERE / "alerts.test.yaml", tmp_path / "alerts.test.yaml")
    result = promtool("test", "rules", "alerts.test.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@needs_promtool
def test_a_broken_expectation_fails(tmp_path: Path) -> None:
    """The harness really checks: flip one expectation and promtool must report a failure."""
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rules()))
    spec = yaml.safe_load((HERE / "alerts.test.yaml").read_text())
    first = spec["tests"][0]["alert_rule_test"][0]
    assert first["exp_alerts"] == []
    first["eval_time"] = "8m"  # the billing alert fires then
    (tmp_path / "alerts.test.yaml").write_text(yaml.safe_dump(spec))
    result = promtool("test", "rules", "alerts.test.yaml", cwd=tmp_path)
    assert result.returncode != 0
    assert "VidgenProviderBillingErrors" in result.stdout + result.stderr


def test_every_alert_links_its_runbook_section() -> None:
    runbook = (HERE.parents[1] / "charts" / "vidgen" / "RUNBOOK.md").read_text()
    headings = {line[3:].strip().lower() for line in runbook.splitlines() if line.startswith("## ")}
    for group in rules({"runbookUrl": "https://runbooks.example.com/vidgen.md"})["groups"]:
        for rule in group["rules"]:
            url = rule["annotations"]["runbook_url"]
            assert url == f"https://runbooks.example.com/vidgen.md#{rule['alert'].lower()}"
            assert rule["alert"].lower() in headings, rule["alert"]
