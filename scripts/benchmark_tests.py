#!/usr/bin/env python3
"""Measure the wall time of a warm `make test`: the number the README's performance section gives.

Runs `make test` once to warm up (bootstrap stamps, Python bytecode, the OS file cache, node), then
``--runs`` more times, and prints each run's wall time, the fastest (the least disturbed by whatever
else the machine runs), the ten slowest tests of that run (pytest's ``--durations=10``, set through
``PYTEST_ADDOPTS``), and the machine: cores, CPU model, load average before and after. Each run also
shows the CPU time of all its processes (user + system, workers and their node and subprocess
children): that number barely moves with the machine's load, and half of it is the least wall time
two idle cores could take. Exits non-zero when a run fails. Run `make benchmark-tests` (``RUNS=3``
for three timed runs).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DURATIONS = re.compile(r"^=+ slowest 10 durations =+$")
SUMMARY = re.compile(r"^=+ .*\b\d+ passed\b.* =+$")


def make_test(extra_pytest_options: str) -> tuple[float, float, str, int]:
    """One `make test`: wall time and CPU time in seconds, its output, its exit code."""
    environment = dict(os.environ)
    environment["PYTEST_ADDOPTS"] = f"{environment.get('PYTEST_ADDOPTS', '')} {extra_pytest_options}".strip()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(
        ["make", "--no-print-directory", "test"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, result.stdout, result.returncode


def slowest(output: str) -> list[str]:
    """The lines of pytest's ``--durations=10`` table."""
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if DURATIONS.match(line):
            table = []
            for row in lines[index + 1 :]:
                if not re.match(r"^\d+\.\d+s ", row):
                    break
                table.append(row)
            return table
    return []


def summary(output: str) -> str:
    return next((line.strip("= ") for line in reversed(output.splitlines()) if SUMMARY.match(line)), "no summary")


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown CPU"
    return next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")), "?")


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1, help="timed runs after the warm-up (the fastest is reported)")
    args = parser.parse_args()

    print(f"machine: {os.cpu_count()} cores, {cpu_model()}; load average before: {load()}", flush=True)
    warm_up, cpu, output, code = make_test("")
    print(f"warm-up make test: {warm_up:.1f} s, CPU {cpu:.1f} s ({summary(output)})", flush=True)
    if code:
        print(output[-5000:], file=sys.stderr)
        return code

    runs: list[tuple[float, float, str]] = []
    for number in range(1, args.runs + 1):
        seconds, cpu, output, code = make_test("--durations=10")
        print(
            f"run {number}: {seconds:.1f} s, CPU {cpu:.1f} s ({summary(output)}); load average after: {load()}",
            flush=True,
        )
        if code:
            print(output[-5000:], file=sys.stderr)
            return code
        runs.append((seconds, cpu, output))

    best, cpu, output = min(runs)
    print(f"\nwarm make test: {best:.1f} s (fastest of {len(runs)}; CPU {cpu:.1f} s)")
    print("ten slowest tests of that run:")
    for row in slowest(output):
        print(f"  {row}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
