"""Who can drive each privileged role (privileged_roles.py): exactly its designated job."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest
from batch import judged
from privileged_roles import POWER, REACH, ROLES, WAYS, holds_power, role_arn, role_scenarios, template_of
from simulator import Result


@pytest.fixture(scope="module")
def stage(access_worlds: dict[str, Any]) -> Any:
    return access_worlds["stage"]


@pytest.fixture(scope="module")
def reached(access_results: dict[str, Result], stage: Any) -> dict[tuple[str, str], set[str]]:
    """(role, way) -> the principals that reach the role that way: by any one of its calls (changing
    the code or the role's permissions), each allowed on every resource it names."""
    requests: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for scenario in role_scenarios(stage, list(stage.principals())):
        _, role, way, principal, _ = scenario["id"].split(".")
        requests[role, way, principal].append(scenario["id"])
    found: dict[tuple[str, str], set[str]] = defaultdict(set)
    for (role, way, principal), ids in requests.items():
        if any(judged(access_results, i, "roles")[0].allowed for i in ids):
            found[role, way].add(principal)
    return found


CELLS = [(role, way) for role in ROLES for way in WAYS]


@pytest.mark.parametrize(("role", "way"), CELLS, ids=[f"{r}-{w}" for r, w in CELLS])
def test_only_the_designated_job_reaches_the_role(
    reached: dict[tuple[str, str], set[str]], role: str, way: str
) -> None:
    assert reached[role, way] == set(REACH[role, way]), (
        f"{way} {ROLES[role].label}: reached by {sorted(reached[role, way])}, designated {sorted(REACH[role, way])}"
    )


def test_the_table_lists_every_privileged_role_with_its_trust(stage: Any) -> None:
    """Every role of the member templates whose policies hold power is in ROLES, trusted by its service only."""
    listed = {role_arn(stage, key) for key in ROLES}
    for template in (stage.regional, stage.global_):
        for logical_id, _ in template.of_type("AWS::IAM::Role"):
            arn = template.arn(logical_id)
            power = holds_power(template.policies_of_role(template.physical_name(logical_id)))
            assert not power or arn in listed, f"{logical_id} holds {power} ({POWER}) and is not in ROLES"
    for key, role in ROLES.items():
        template = template_of(stage, role)
        properties = next(p for i, p in template.of_type("AWS::IAM::Role") if i.startswith(role.logical_id))
        trust = template.resolve(properties["AssumeRolePolicyDocument"])["Statement"]
        assert [s["Principal"] for s in trust] == [{"Service": role.service}], key
        assert holds_power(
            template.policies_of_role(
                template.physical_name(
                    next(i for i, _ in template.of_type("AWS::IAM::Role") if i.startswith(role.logical_id))
                )
            )
        ), key
