"""The session's one simulator batch: every scenario of the access suite (test_access.py), shared by
the suite's test modules."""

from __future__ import annotations

import pytest
from access_settings import DEFAULT_PATH, SCENARIOS, path_of
from adversaries import adversary_scenarios
from batch import path_world, scenario_batch, worlds
from cdk_helpers import SynthesizedApp
from simulator import Result, simulate


@pytest.fixture(scope="session")
def access_results(example_app: SynthesizedApp, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    """Every scenario from both template sources, and those of the other approval paths from
    their Member stage, in one simulator batch."""
    example = worlds(example_app)
    batch = [item for source, world in example.items() for item in scenario_batch(world, source)]
    batch += scenario_batch(example["stage"], "stage", DEFAULT_PATH, adversary_scenarios())
    directory = tmp_path_factory.mktemp("approval-paths")
    for path in sorted({path_of(s) for s in SCENARIOS} - {DEFAULT_PATH}):
        batch += scenario_batch(path_world(path, directory, example["stage"].central), "stage", path)
    return simulate(batch)
