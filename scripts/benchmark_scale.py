#!/usr/bin/env python3
"""Synth cost and template sizes against the number of target accounts and Regions.

For 1, 100 and 1000 target accounts and 1, 4 and 16 Regions, the script writes a config (the
example's controls and pipeline; the target accounts listed in `only_accounts`, the worst case for
template size, plus one canary account), runs the pinned `cdk synth` on it as `make synth` does,
and prints the wall time, the number of templates and their sizes.

It exits non-zero when the number of templates changes with the number of accounts or a template
passes CloudFormation's limit for a template read from S3 (1 MB; CDK always deploys templates
from S3, and StackSets read theirs from the asset bucket). Run it with `make benchmark-scale`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from lint_templates import templates

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_URL_LIMIT = 1_000_000  # bytes
TEMPLATE_BODY_LIMIT = 51_200  # bytes, only for templates passed inline (CDK does not)
REGIONS = [
    "eu-west-1", "eu-central-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-2", "eu-west-3",
    "eu-north-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "ap-northeast-2", "ap-south-1",
    "ca-central-1", "sa-east-1",
]  # fmt: skip


def config_for(accounts: int, regions: int) -> dict:
    config = yaml.safe_load((ROOT / "config" / "example.yaml").read_text())
    canary, *targets = [f"{500000000000 + n:012d}" for n in range(accounts + 1)]
    organization = config["organization"]
    organization["regions"] = REGIONS[:regions]
    organization["home_region"] = REGIONS[0]
    organization["only_accounts"] = [canary, *targets]
    organization["canary_accounts"] = [canary]
    config.setdefault("rollout", {})["auto_deployment"] = False  # required with only_accounts
    return config


def synth(config: dict, scratch: Path) -> tuple[float, list[int]]:
    config_file = scratch / "scale.yaml"
    config_file.write_text(yaml.safe_dump(config))
    outdir = scratch / "cdk.out"
    started = time.perf_counter()
    result = subprocess.run(
        [
            str(ROOT / "node_modules" / ".bin" / "cdk"),
            "synth",
            "--quiet",
            "--no-notices",
            "-c",
            f"config={config_file}",
            "--output",
            str(outdir),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "CDK_DISABLE_CLI_TELEMETRY": "true"},
    )
    elapsed = time.perf_counter() - started
    if result.returncode:
        sys.exit(f"cdk synth failed:\n{result.stderr}")
    sizes = sorted(path.stat().st_size for path in set(templates(outdir)))
    return elapsed, sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1, help="synths per cell; the median time is printed")
    parser.add_argument("--accounts", type=int, nargs="+", default=[1, 100, 1000])
    parser.add_argument("--regions", type=int, nargs="+", default=[1, 4, 16])
    args = parser.parse_args()
    print("| accounts | Regions | synth (s) | templates | largest template (KB) | all templates (KB) |")
    print("|---:|---:|---:|---:|---:|---:|")
    counts: dict[int, set[int]] = {}
    too_big = []
    for regions in args.regions:
        for accounts in args.accounts:
            times, sizes = [], []
            for _ in range(args.runs):
                with tempfile.TemporaryDirectory() as scratch:
                    elapsed, sizes = synth(config_for(accounts, regions), Path(scratch))
                    times.append(elapsed)
            counts.setdefault(regions, set()).add(len(sizes))
            too_big += [(accounts, regions, size) for size in sizes if size > TEMPLATE_URL_LIMIT]
            print(
                f"| {accounts} | {regions} | {statistics.median(times):.2f} | {len(sizes)} | "
                f"{sizes[-1] / 1000:.1f} | {sum(sizes) / 1000:.1f} |",
                flush=True,
            )
    varying = {regions: sorted(c) for regions, c in counts.items() if len(c) > 1}
    failures = [f"{regions} Regions: template count varies with accounts: {c}" for regions, c in varying.items()]
    failures += [f"{a} accounts, {r} Regions: a {s}-byte template exceeds {TEMPLATE_URL_LIMIT}" for a, r, s in too_big]
    for failure in failures:
        print(f"error: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
