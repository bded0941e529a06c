"""What a Session Manager client (an operator) needs, shared by SessionPrefs and SeparationOfDuties.

Each rule cites the AWS page it follows.
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam

#: The session data key's alias (SessionPrefs creates the key in every account and Region);
#: SeparationOfDuties scopes its operators' ``kms:GenerateDataKey`` to it with ``kms:ResourceAliases``.
SESSION_DATA_KEY_ALIAS = "alias/session-manager/data"

#: "End only the sessions you started". Session Manager tags every session with
#: ``aws:ssmmessages:session-id`` = the caller's ``aws:userid``; AWS documents this condition as the
#: method that works for every caller type (IAM users, assumed roles, federated users), unlike a
#: ``session/${aws:userid}-*`` or ``${aws:username}-*`` ARN: "Example 4: Allow a user to end only
#: sessions they started", method 2,
#: https://docs.aws.amazon.com/systems-manager/latest/userguide/getting-started-restrict-access-examples.html#restrict-access-example-user-sessions-tags
OWN_SESSIONS_CONDITION = {"StringLike": {"ssm:resourceTag/aws:ssmmessages:session-id": "${aws:userid}"}}
OWN_SESSIONS_REASON = (
    "Terminate/resume only sessions whose AWS-applied tag aws:ssmmessages:session-id equals the caller's "
    "aws:userid (condition); session ids are generated, so the ARN cannot name them."
)

OPEN_DATA_CHANNEL_REASON = (
    "ssmmessages:OpenDataChannel has no resource type in the Service Authorization Reference (only '*' "
    "matches); a channel opens only with the token that the scoped StartSession/ResumeSession return."
)


def open_data_channel_statement() -> iam.PolicyStatement:
    """``ssmmessages:OpenDataChannel`` for the operator's session client, on ``*``.

    Decision, between two AWS pages that disagree:

    * the Session Manager sample end-user policies grant it on
      ``arn:aws:ssm:*:*:session/${aws:userid}-*``
      (https://docs.aws.amazon.com/systems-manager/latest/userguide/getting-started-restrict-access-quickstart.html);
    * the Service Authorization Reference lists no resource type for the action and says the
      service "does not support specifying a resource ARN in the Resource element of an IAM policy
      statement" (https://docs.aws.amazon.com/service-authorization/latest/reference/list_ssmmessages.html);
      with no resource type, IAM evaluates the request against ``*``.

    ``*`` works under both readings (it matches whatever resource the authorizer evaluates), a
    session ARN only under the first. It gives no extra reach: a data channel opens only with the
    stream token of a session that StartSession or ResumeSession returned to this caller, and both
    of those are scoped (tagged or approved instances, allowed documents, own sessions).
    """
    return iam.PolicyStatement(
        sid="OpenTheSessionDataChannel", actions=["ssmmessages:OpenDataChannel"], resources=["*"]
    )
