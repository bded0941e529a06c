"""`python -m ssm_guardrails_cli`: the same as the `ssm-guardrails` command."""

from ssm_guardrails_cli.app import main

main()
