#!/usr/bin/env python3
"""SSM Guardrails CDK app: load config -> build stacks -> register cdk-nag -> synth.

`-c config=NAME` selects config/NAME.yaml (default: example). A configuration mistake prints
one line per problem and exits 1 before any stack is built; nothing is synthesized from it.
"""

from __future__ import annotations

import sys

import aws_cdk as cdk

from guardrails import PropsError
from stacks.build import build_app, register_nag
from stacks.config import ConfigError, load_config


def main() -> int:
    app = cdk.App()
    try:
        config = load_config(app.node.try_get_context("config") or "example")
        build_app(app, config)
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


if __name__ == "__main__":
    sys.exit(main())
