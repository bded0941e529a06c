"""Synth-time checks: the token test they rely on agrees with CDK's own."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import jsii
import pytest

from guardrails.rollout.asset_bucket import ACCOUNT_ID
from guardrails.shared.validation import PropsError, _is_token, check_pattern


@jsii.implements(cdk.IStableStringProducer)
class _Later:
    def produce(self) -> str:
        return "later"


def _values() -> dict[str, Any]:
    stack = cdk.Stack(cdk.App(), "Values")
    return {
        "plain string": "111111111111",
        "pseudo parameter": stack.account,
        "string with a token inside": f"arn:{stack.partition}:iam::{stack.account}:root",
        "lazy string": cdk.Lazy.string(_Later()),
        "number token": cdk.Token.as_number(stack.account),
        "whole number": 5,
        "fraction": 2.5,
    }


@pytest.mark.parametrize("name", list(_values()))
def test_is_token_agrees_with_cdk(name: str) -> None:
    value = _values()[name]
    assert _is_token(value) == cdk.Token.is_unresolved(value)


def test_checks_skip_tokens_and_reject_bad_literals() -> None:
    check_pattern("account", cdk.Stack(cdk.App(), "S").account, ACCOUNT_ID, "12 digits")  # no error
    with pytest.raises(PropsError, match="account: got '12'; allowed: 12 digits"):
        check_pattern("account", "12", ACCOUNT_ID, "12 digits")
