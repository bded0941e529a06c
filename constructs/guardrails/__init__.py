"""SSM Guardrails: privileged-access controls built on AWS Systems Manager, as CDK L3 constructs."""

from guardrails._validation import PropsError
from guardrails.break_glass import BreakGlass
from guardrails.encrypted_topic import EncryptedTopic
from guardrails.guardrail_function import GuardrailFunction

__all__ = ["BreakGlass", "EncryptedTopic", "GuardrailFunction", "PropsError"]
