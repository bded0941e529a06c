"""ssm-guardrails: the operator CLI of SSM Guardrails."""
