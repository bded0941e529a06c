"""report rotation / report access-keys: what the controls found, as a table or JSON."""

from __future__ import annotations

import json
from typing import Any

from rich.table import Table

from ssm_guardrails_cli.runtime import Exit, Runtime
from ssm_guardrails_cli.settings import load_settings


def run_rotation_report(rt: Runtime, notify: bool) -> Exit:
    """Invoke each window's freshness report (it reads metadata only) and show its summary. As on
    its schedule, the report publishes an alert to the notification topic when an instance is
    missing or stale, unless ``notify`` is False ({"notify": false} in the event)."""
    settings = load_settings(rt).control("password_rotation")
    awslambda = rt.client("lambda")
    summaries = []
    event = b"{}" if notify else json.dumps({"notify": False}).encode()
    for function in settings["freshness_report_functions"]:
        response = awslambda.invoke(FunctionName=function, Payload=event)
        payload = json.loads(response["Payload"].read())
        if response.get("FunctionError"):
            return rt.fail(Exit.FAILED, f"freshness report {function} failed in {rt.where()}: {payload}")
        summaries.append(payload)
    alerted = notify and any(s["missing"] or s["stale"] for s in summaries)
    rt.emit({"windows": summaries, "alert_published": alerted}, lambda: _rotation_table(rt, summaries, alerted))
    return Exit.OK


def _rotation_table(rt: Runtime, summaries: list[dict[str, Any]], alerted: bool) -> None:
    table = Table("window", "instance", "state", "why", title="Rotated password freshness")
    for summary in summaries:
        for instance in summary["missing"]:
            table.add_row(summary["window"], instance, "MISSING", "no password stored")
        for instance in summary["stale"]:
            table.add_row(summary["window"], instance, "STALE", summary.get("reasons", {}).get(instance, ""))
        if not summary["missing"] and not summary["stale"]:
            table.add_row(summary["window"], f"{summary['checked']} instance(s)", "fresh", "")
    rt.console.print(table)
    if alerted:
        rt.say("An alert went to the notification topic, as on the report's schedule (--no-notify: none).")


def run_access_key_report(rt: Runtime) -> Exit:
    """NON_COMPLIANT results of the access-key rule (home Region: IAM users are evaluated there)."""
    settings = load_settings(rt).control("access_key_remediation")
    config = rt.client("config", region=settings["home_region"])
    findings = []
    pages = config.get_paginator("get_compliance_details_by_config_rule").paginate(
        ConfigRuleName=settings["config_rule"], ComplianceTypes=["NON_COMPLIANT"]
    )
    for page in pages:
        for result in page["EvaluationResults"]:
            qualifier = result["EvaluationResultIdentifier"]["EvaluationResultQualifier"]
            findings.append({"user_id": qualifier["ResourceId"], "recorded": result["ResultRecordedTime"]})
    names = _user_names(config, [f["user_id"] for f in findings])
    for finding in findings:
        finding["user"] = names.get(finding["user_id"], "(deleted)")
    rt.emit({"rule": settings["config_rule"], "findings": findings}, lambda: _access_key_table(rt, findings, settings))
    return Exit.OK


def _user_names(config: Any, user_ids: list[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    for start in range(0, len(user_ids), 20):  # ListDiscoveredResources takes at most 20 resource ids
        resources = config.list_discovered_resources(
            resourceType="AWS::IAM::User", resourceIds=user_ids[start : start + 20]
        )
        names |= {r["resourceId"]: r.get("resourceName", "") for r in resources["resourceIdentifiers"]}
    return names


def _access_key_table(rt: Runtime, findings: list[dict[str, Any]], settings: dict[str, Any]) -> None:
    title = f"Users with an access key older than {settings['max_access_key_age_days']} days"
    table = Table("user", "user id", "since", title=title)
    for finding in findings:
        table.add_row(finding["user"], finding["user_id"], f"{finding['recorded']:%Y-%m-%d}")
    rt.console.print(table if findings else "No user has an access key past the rule's age.")
