"""SSM Guardrails: privileged-access controls built on AWS Systems Manager, as CDK L3 constructs."""

from guardrails._validation import PropsError
from guardrails.access_key_findings import AccessKeyFindings
from guardrails.access_key_remediation import AccessKeyRemediation
from guardrails.break_glass import BreakGlass
from guardrails.encrypted_log_group import EncryptedLogGroup
from guardrails.encrypted_topic import EncryptedTopic
from guardrails.guardrail_function import GuardrailFunction
from guardrails.org_asset_bucket import OrgAssetBucket, OrgAssetLocation
from guardrails.organization_stack_set import AccountFilter, CallAs, OrganizationStackSet, RegionConcurrency
from guardrails.password_rotation_window import PasswordRotationWindow
from guardrails.password_vault import PasswordVault
from guardrails.separation_of_duties import SeparationOfDuties
from guardrails.session_prefs import SessionPrefs
from guardrails.stack_set_admin_synthesizer import StackSetAdminSynthesizer
from guardrails.stack_set_template import StackSetTemplate

__all__ = [
    "AccessKeyFindings",
    "AccessKeyRemediation",
    "AccountFilter",
    "BreakGlass",
    "CallAs",
    "EncryptedLogGroup",
    "EncryptedTopic",
    "GuardrailFunction",
    "OrgAssetBucket",
    "OrgAssetLocation",
    "OrganizationStackSet",
    "PasswordRotationWindow",
    "PasswordVault",
    "PropsError",
    "RegionConcurrency",
    "SeparationOfDuties",
    "SessionPrefs",
    "StackSetAdminSynthesizer",
    "StackSetTemplate",
]
