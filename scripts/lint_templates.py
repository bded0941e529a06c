#!/usr/bin/env python3
"""cfn-lint every template of a cloud assembly: the stacks of every stage and the StackSet templates.

Only the templates the manifests name are checked (`cdk synth` leaves older files in cdk.out).
`make synth` does not run CDK's built-in CloudFormation validator (see app.py); run this after it
(`make lint-templates`, which the pipeline does) to validate the templates of any config.

Warnings fail like errors. The only exceptions are the rules in `.cfnlintrc.yaml`, each with its
reason; the tests lint through :func:`lint` too, so both apply the same list.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG_FILE = ROOT / ".cfnlintrc.yaml"


def templates(assembly: Path) -> Iterator[Path]:
    """Stack templates and templates published as file assets (the StackSet templates), recursively."""
    manifest = json.loads((assembly / "manifest.json").read_text())
    for artifact in manifest.get("artifacts", {}).values():
        properties = artifact.get("properties", {})
        if artifact["type"] == "aws:cloudformation:stack":
            yield assembly / properties["templateFile"]
        elif artifact["type"] == "cdk:cloud-assembly":
            yield from templates(assembly / properties["directoryName"])
        elif artifact["type"] == "cdk:asset-manifest":
            files = json.loads((assembly / properties["file"]).read_text()).get("files", {})
            for entry in files.values():
                if entry["source"].get("packaging") == "file" and entry["source"]["path"].endswith(".template.json"):
                    yield assembly / entry["source"]["path"]


def lint(paths: Iterable[Path]) -> tuple[int, list[str]]:
    """cfn-lint ``paths`` with the project's settings: the exit code and one line per finding
    (warnings and errors; informational notes are not reported).

    cfn-lint's own command-line runner, in this process: the same options, output and exit code as
    the ``cfn-lint`` command, without a new interpreter importing cfn-lint and loading its rules for
    every call (the tests lint three times per run; the resource schemas, once loaded, are reused).
    """
    from cfnlint.config import ConfigMixIn  # imported here: `templates` and the tests' helpers need none of it
    from cfnlint.runner import Runner

    paths = list(paths)
    if not paths:  # cfn-lint would read a template from stdin
        return 0, []
    arguments = [
        *("--config-file", str(CONFIG_FILE)),
        *("--format", "parseable", "--non-zero-exit-code", "warning"),
        "--",
        *map(str, paths),
    ]
    output = io.StringIO()
    try:
        with contextlib.redirect_stdout(output):
            Runner(ConfigMixIn(arguments)).cli()  # always ends in sys.exit with cfn-lint's exit code
        returncode = 0
    except SystemExit as exit_:
        returncode = exit_.code if isinstance(exit_.code, int) else 1
    except Exception as error:  # cfn-lint could not start (a bad option or config file)
        return 1, [f"cfn-lint failed: {error}"]
    findings = [line for line in output.getvalue().splitlines() if line.strip()]
    if returncode and not findings:  # cfn-lint refused the run (unreadable file, bad configuration)
        findings = [f"cfn-lint exited {returncode}"]
    return returncode, findings


def main() -> int:
    assembly = Path(sys.argv[1] if len(sys.argv) > 1 else "cdk.out")
    if not (assembly / "manifest.json").is_file():
        print(f"error: {assembly}/manifest.json not found; run `make synth` first", file=sys.stderr)
        return 1
    paths = sorted({path.resolve() for path in templates(assembly)})
    returncode, findings = lint(paths)
    print("\n".join(findings))
    print(f"cfn-lint: {len(paths)} templates, {len(findings)} findings, exit {returncode}", file=sys.stderr)
    return returncode


if __name__ == "__main__":
    sys.exit(main())
