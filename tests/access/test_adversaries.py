"""Adversaries with real AWS managed policies (adversaries.py) against the controls: none of them
reaches an abuse, except where BOUNDARIES names the README sentence that says AWS leaves it open.

An abuse is reached only when every request of every step is allowed; its requests are judged in
the session's one simulator batch (conftest.py), as the member account's Member stage templates.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from adversaries import ABUSES, ADVERSARIES, BOUNDARIES, GUARDED, adversary_scenarios, managed_policy
from batch import judged
from simulator import Result

ROOT = Path(__file__).resolve().parents[2]
MATRIX = [(who, abuse) for who in ADVERSARIES for abuse in ABUSES]


def reached(results: dict[str, Result], who: str, abuse: str, source: str = "adversary") -> tuple[bool, list[str]]:
    steps = [s for s in adversary_scenarios() if s["abuse"] == f"adversary.{who}.{abuse}"]
    denials = []
    for step in steps:
        decision, why = judged(results, step["id"], source)
        if decision.denied:
            denials.append(f"{step['action']}: {'; '.join(why)}")
    return not denials, denials


@pytest.mark.parametrize(("who", "abuse"), MATRIX, ids=[f"{w}-{a}" for w, a in MATRIX])
def test_adversary(access_results: dict[str, Result], who: str, abuse: str) -> None:
    got, denials = reached(access_results, who, abuse)
    boundary = BOUNDARIES.get((who, abuse))
    if boundary:
        assert got, f"{who} no longer reaches {abuse} ({denials}): remove the boundary and its README sentence"
    else:
        assert not got, f"{ADVERSARIES[who].label} may {ABUSES[abuse].may_not} ({abuse}): every request allowed"


@pytest.mark.parametrize(("who", "abuse"), GUARDED, ids=[f"{w}-{a}" for w, a in GUARDED])
def test_the_organization_guard_closes_the_boundary(access_results: dict[str, Result], who: str, abuse: str) -> None:
    """The boundary is real without the guard (test_adversary) and closed with it."""
    assert (who, abuse) in BOUNDARIES
    got, _ = reached(access_results, who, abuse, source="guard")
    assert not got, f"{ADVERSARIES[who].label} may {ABUSES[abuse].may_not} ({abuse}) even under the organization guard"


def test_every_boundary_is_stated_in_the_readme() -> None:
    readme = " ".join((ROOT / "README.md").read_text().split())
    missing = [sentence for sentence in BOUNDARIES.values() if " ".join(sentence.split()) not in readme]
    assert not missing, missing


def test_the_adversaries_hold_the_published_documents() -> None:
    """The data set is the pinned one and carries the documents (not names only)."""
    power_user = managed_policy("PowerUserAccess")
    assert power_user["Statement"][0]["NotAction"] == ["iam:*", "organizations:*", "account:*"]
    for who, adversary in ADVERSARIES.items():
        for name in adversary.policies:
            assert managed_policy(name)["Statement"], (who, name)
