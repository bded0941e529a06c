#!/usr/bin/env python3
"""Measure what `make synth` costs compared with the synth of an empty CDK app.

Both run through the same pinned `cdk` CLI and the same Python and Node.js, several times each;
the script prints the median wall time of each and their ratio. The budget (see README) is a
ratio of at most 1.5. Run it with `make benchmark`.
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
        (scratch_dir / "cdk.json").write_text(json.dumps({"app": f"{python} empty_app.py"}))
        samples: dict[str, list[float]] = {"empty CDK app": [], "example config": []}
        for run in range(args.runs + 1):  # the first round warms caches and is discarded
            empty = time_synth(f"{python} empty_app.py", scratch_dir, scratch_dir / "empty.out")
            example = time_synth(f"{python} app.py", ROOT, scratch_dir / "example.out")
            if run:
                samples["empty CDK app"].append(empty)
                samples["example config"].append(example)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    for name, median in medians.items():
        print(f"{name:16} median {median:6.2f} s over {args.runs} runs")
    ratio = medians["example config"] / medians["empty CDK app"]
    print(f"ratio            {ratio:6.2f} (budget 1.50)")
    return 0 if ratio <= 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
