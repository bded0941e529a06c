"""Who can do what: every scenario of scenarios.yaml judged by the IAM simulator.

The example's Member templates and their StackSet copies are resolved for a sample member account
and Region (resolve.py); each scenario's principal gets the identity policies those templates
attach to it, the resource gets its key or topic policy, and the whole session's scenarios go to
the simulator in one batch (simulator.py). Each scenario must get the answer the table expects,
from both template sources.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import pytest
from access_settings import (
    APPROVAL_PATHS,
    CONFIGS,
    CONTROLS,
    DATA,
    DEFAULT_PATH,
    SCENARIOS,
    SOURCES,
    path_of,
    sources_of,
)
from adversaries import ADVERSARIES
from batch import judged, scenario_problems
from cdk_helpers import ROOT
from implied import TAG_ON_CREATE, passes_tags
from simulator import Decision, Result


def _expected(scenario: dict[str, Any]) -> Callable[[Decision], bool]:
    return {"allowed": lambda d: d.allowed, "denied": lambda d: d.denied}[scenario["expect"]]


def test_every_scenario_names_every_required_resource_type(access_worlds: dict[str, Any]) -> None:
    """A scenario is judged on a resource of every type AWS requires for its action (the Service
    Authorization Reference, service_reference.py) and on the implied tagging action's new resource;
    naming fewer would judge fewer resources than AWS does."""
    world = access_worlds["stage"]
    values = world.values(world.principals())
    problems = [f"{s['id']}: {p}" for s in SCENARIOS for p in scenario_problems(s, values)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("scenario", "source"),
    [(s, source) for source in SOURCES for s in SCENARIOS if source in sources_of(s)],
    ids=[f"{source}-{s['id']}" for source in SOURCES for s in SCENARIOS if source in sources_of(s)],
)
def test_scenario(access_results: dict[str, Result], scenario: dict[str, Any], source: str) -> None:
    arns = scenario["resource"] if isinstance(scenario["resource"], list) else [scenario["resource"]]
    decision, denials = judged(access_results, scenario["id"], source)
    requests = [f"{scenario['action']} on {arn}" for arn in arns]
    implied = TAG_ON_CREATE.get(scenario["action"])
    if implied and passes_tags(scenario.get("context", {})):
        requests.append(f"{implied.tagging_action} on the new {implied.new_resource_type} (tags at start)")
    named = [f"{requests[int(d.split(':')[0])]}: {d.split(': ', 1)[1]}" for d in denials]
    assert _expected(scenario)(decision), (
        f"{scenario['as']}: expected {scenario['expect']}, got {decision}: {'; '.join(named) or 'every request allowed'}"
    )


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["id"] for s in SCENARIOS])
def test_weakened_policies_give_the_opposite_answer(
    access_results: dict[str, Result], scenario: dict[str, Any]
) -> None:
    """The harness can fail: the same requests against policies weakened on purpose flip."""
    decision, _ = judged(access_results, scenario["id"], "weakened")
    assert not _expected(scenario)(decision)


def test_the_table_covers_every_control_both_ways() -> None:
    assert len(SCENARIOS) >= 60
    assert len({s["id"] for s in SCENARIOS}) == len(SCENARIOS)
    for control in CONTROLS:
        expectations = {s["expect"] for s in SCENARIOS if s["control"] == control}
        assert expectations == {"allowed", "denied"}, control
    assert {s["control"] for s in SCENARIOS} == set(CONTROLS)
    for scenario in SCENARIOS:
        assert scenario["as"] in DATA["principals"] or scenario["as"] in ADVERSARIES, scenario["id"]
        assert path_of(scenario) in {DEFAULT_PATH, *APPROVAL_PATHS, *CONFIGS}, scenario["id"]
        assert ("may" if scenario["expect"] == "allowed" else "may_not") in scenario, scenario["id"]


def test_readme_who_can_do_what_is_generated_from_the_scenarios() -> None:
    """Run `make access-table` after changing scenarios.yaml."""
    spec = importlib.util.spec_from_file_location("access_table", ROOT / "scripts" / "access_table.py")
    assert spec and spec.loader
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    readme = (ROOT / "README.md").read_text()
    assert script.rendered_readme(readme) == readme
