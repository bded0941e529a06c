"""Building blocks every control uses: the Lambda function, topic, log group, bucket and password vault,
the scoped custom-resource provider, the principal type of every role list (``Principal``), prop
validation, document loading and cdk-nag acknowledgements. Controls import each other's code only
through this package."""

from guardrails.shared.encrypted_log_group import EncryptedLogGroup
from guardrails.shared.encrypted_topic import EncryptedTopic
from guardrails.shared.guardrail_function import GuardrailFunction
from guardrails.shared.password_vault import PasswordVault
from guardrails.shared.principals import Principal
from guardrails.shared.validation import PropsError

__all__ = ["EncryptedLogGroup", "EncryptedTopic", "GuardrailFunction", "PasswordVault", "Principal", "PropsError"]
