"""The session's one simulator batch: every scenario of the access suite (test_access.py), shared by
the suite's test modules."""

from __future__ import annotations

import time

import pytest
from access_settings import DEFAULT_PATH, SCENARIOS, path_of
from adversaries import adversary_scenarios, guarded_scenarios
from batch import path_world, scenario_batch, worlds
from cdk_helpers import SynthesizedApp
from privileged_roles import role_scenarios
from simulator import Result, simulate
from world import World


@pytest.fixture(scope="session")
def access_worlds(example_app: SynthesizedApp) -> dict[str, World]:
    """The example's Member stage and StackSet copies, resolved once per session."""
    return worlds(example_app)


@pytest.fixture(scope="session")
def access_results(access_worlds: dict[str, World], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    """Every scenario from both template sources, and those of the other approval paths from
    their Member stage, the adversaries and the privileged roles, in one simulator batch."""
    example = access_worlds
    batch = [item for source, world in example.items() for item in scenario_batch(world, source)]
    batch += scenario_batch(example["stage"], "adversary", DEFAULT_PATH, adversary_scenarios())
    batch += scenario_batch(example["stage"], "guard", DEFAULT_PATH, guarded_scenarios())
    principals = list(example["stage"].principals())
    batch += scenario_batch(example["stage"], "roles", DEFAULT_PATH, role_scenarios(example["stage"], principals))
    directory = tmp_path_factory.mktemp("approval-paths")
    for path in sorted({path_of(s) for s in SCENARIOS} - {DEFAULT_PATH}):
        batch += scenario_batch(path_world(path, directory, example["stage"].central), "stage", path)
    started = time.monotonic()
    results = simulate(batch)
    # the suite's budget: one batch of a few seconds (Node start, service reference, ~1 ms a request)
    print(f"\naccess suite: {len(batch)} requests in one simulator batch, {time.monotonic() - started:.1f} s")
    return results
