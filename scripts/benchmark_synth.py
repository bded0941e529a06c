#!/usr/bin/env python3
"""Measure what `make synth` costs compared with the synth of an empty CDK app.

All run through the same pinned `cdk` CLI and the same Python and Node.js, several times each,
interleaved; the script prints the median wall time of each and the ratios. The budget (see
README) is a ratio of at most 1.5 against a default empty app. A second ratio compares with an
empty app that skips what app.py skips (CDK's built-in CloudFormation validator, the jsii
kernel's idle shutdown), so it shows the cost of the example's own work. Run `make benchmark`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EMPTY_APP = "import aws_cdk as cdk\napp = cdk.App()\ncdk.Stack(app, 'Empty')\napp.synth()\n"
MATCHED_EMPTY_APP = (
    "import os, sys\nimport aws_cdk as cdk\napp = cdk.App(builtin_cloud_formation_validation=False)\n"
    "cdk.Stack(app, 'Empty')\napp.synth()\nsys.stdout.flush()\nos._exit(0)\n"
)


def time_synth(app_command: str, cwd: Path, outdir: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [
            str(ROOT / "node_modules" / ".bin" / "cdk"),
            "synth",
            "--quiet",
            "--no-notices",
            "--app",
            app_command,
            "--output",
            str(outdir),
        ],
        cwd=cwd,
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "CDK_DISABLE_CLI_TELEMETRY": "true"},
    )
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory() as scratch:
        scratch_dir = Path(scratch)
        (scratch_dir / "empty_app.py").write_text(EMPTY_APP)
        (scratch_dir / "matched_app.py").write_text(MATCHED_EMPTY_APP)
        (scratch_dir / "cdk.json").write_text(json.dumps({"app": f"{python} empty_app.py"}))
        apps = {
            "empty CDK app": (f"{python} empty_app.py", scratch_dir),
            "empty, as app.py": (f"{python} matched_app.py", scratch_dir),
            "example config": (f"{python} app.py", ROOT),
        }
        samples: dict[str, list[float]] = {name: [] for name in apps}
        for run in range(args.runs + 1):  # the first round warms caches and is discarded
            for name, (command, cwd) in apps.items():
                elapsed = time_synth(command, cwd, scratch_dir / "out")
                if run:
                    samples[name].append(elapsed)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    for name, median in medians.items():
        print(f"{name:18} median {median:6.2f} s over {args.runs} runs")
    ratio = medians["example config"] / medians["empty CDK app"]
    matched = medians["example config"] / medians["empty, as app.py"]
    print(f"ratio              {ratio:6.2f} (budget 1.50)")
    print(f"like-for-like      {matched:6.2f} (against the empty app that skips what app.py skips)")
    return 0 if ratio <= 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
