"""SSM Guardrails: privileged-access controls built on AWS Systems Manager, as CDK L3 constructs.

One package per control (``break_glass``, ``password_rotation``, ``session_prefs``, ``separation_of_duties``,
``access_keys``), ``rollout`` for the organization StackSets, and ``shared`` for the building blocks they all
use. Controls never import each other; what two of them need lives in ``shared``.
"""

from guardrails.access_keys import AccessKeyFindings, AccessKeyRemediation
from guardrails.break_glass import BreakGlass
from guardrails.password_rotation import PasswordRotationWindow
from guardrails.rollout import (
    AccountFilter,
    CallAs,
    OrganizationStackSet,
    OrgAssetBucket,
    OrgAssetLocation,
    RegionConcurrency,
    StackSetAdminSynthesizer,
    StackSetTemplate,
)
from guardrails.separation_of_duties import SeparationOfDuties
from guardrails.session_prefs import SessionPrefs
from guardrails.shared import EncryptedLogGroup, EncryptedTopic, GuardrailFunction, PasswordVault, PropsError

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
