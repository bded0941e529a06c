#!/usr/bin/env python3
"""SSM Guardrails CDK app: load config -> build stacks -> register cdk-nag -> synth.

`-c config=NAME` selects config/NAME.yaml (default: example). A configuration mistake prints
one line per problem and exits 1 before any stack is built; nothing is synthesized from it.
"""

from __future__ import annotations

import os
import sys

import aws_cdk as cdk

from guardrails import PropsError
from stacks.build import build_app, register_nag
from stacks.config import ConfigError, load_config


def main() -> int:
    # CDK's built-in CloudFormation validator costs about a second per synth (a WebAssembly engine
    # starts on every run). cfn-lint checks every template instead, the StackSet templates too:
    # in `make test` and, for any config, in `make lint-templates` (the pipeline runs both).
    app = cdk.App(builtin_cloud_formation_validation=False)
    try:
        config_name = app.node.try_get_context("config") or "example"
        config = load_config(config_name)
        build_app(app, config, config_name)
    except (ConfigError, PropsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    register_nag(app)
    try:
        app.synth()
    except RuntimeError as error:
        if "ValidationFailed" not in str(error):
            raise
        # cdk-nag has printed every finding above; the traceback would add nothing.
        print("error: cdk-nag found unacknowledged issues (listed above); nothing was synthesized", file=sys.stderr)
        return 1
    return 0


def _exit_now(code: int) -> None:
    """Leave without the jsii kernel's graceful shutdown.

    After a synth of IAM resources the Node.js kernel lingers about half a second before it
    exits (measured with scripts/benchmark_synth.py), and Python waits for it. Once synth()
    has returned, the cloud assembly is complete on disk, so there is nothing left to wait for:
    flush our own output and exit; the kernel ends by itself when its stdin closes.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    _exit_now(main())
