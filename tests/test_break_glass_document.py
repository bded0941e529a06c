"""The break-glass Command document: its contract, static checks of both scripts, and real runs of
the Linux script in a sandbox against a local moto server (stub chpasswd and curl; nothing leaves
the machine and the host's password is never touched)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
import tree_sitter_powershell as tsp
from moto.server import ThreadedMotoServer
from ssm_docs import defaults, references, render, step
from tree_sitter import Language, Parser

from guardrails.shared.documents import load_document, pin_parameter

LINUX, WINDOWS = "ResetLinuxRootPassword", "ResetWindowsAdministratorPassword"
INSTANCE_ID = "i-0123456789abcdef0"
NAME = f"/BreakGlass/pwd-{INSTANCE_ID}"
LENGTH = 32
CLASSES = (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^a-zA-Z0-9]")
ALLOWED = re.compile(r"[a-zA-Z0-9!#%+,.=?@^_~-]+")
#: Stand-in for head whose first read of /dev/urandom yields no symbol, so the script must draw again.
HEAD_STUB = """if [[ "$*" == *urandom* ]]; then
  printf x >>"LOG"
  if [[ "$(<"LOG")" == x ]]; then printf 'aB3%.0s' {1..1400}; exit 0; fi
fi
command -p head "$@"
"""
#: Stand-in for curl that logs each call's arguments (tab-separated) and answers like IMDSv2.
CURL_STUB = """(IFS=$'\\t'; printf '%s\\n' "$*") >>"LOG"
case "${*: -1}" in
  */latest/api/token) printf 'TOKEN-1' ;;
  */latest/meta-data/instance-id) printf 'i-0fedcba9876543210' ;;
  */latest/meta-data/placement/region) printf 'eu-west-1' ;;
  *) exit 22 ;;
esac
"""


def _tool(name: str) -> str:
    candidate = Path(sys.executable).parent / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    assert found, f"{name} not found (is the virtualenv installed?)"
    return found


def _script(step_name: str, **parameters: str) -> str:
    content = load_document("break_glass")
    return render(step(content, step_name)["inputs"]["runCommand"][0], defaults(content) | parameters)


# ------------------------------------------------------------------------------- contract


def test_document_contract() -> None:
    content = load_document("break_glass")
    assert content["schemaVersion"] == "2.2"
    assert "TTL" in content["description"]
    assert [(s["name"], s["action"], s["precondition"]) for s in content["mainSteps"]] == [
        (LINUX, "aws:runShellScript", {"StringEquals": ["platformType", "Linux"]}),
        (WINDOWS, "aws:runPowerShellScript", {"StringEquals": ["platformType", "Windows"]}),
    ]
    for entry in content["mainSteps"]:
        assert 0 < entry["inputs"]["timeoutSeconds"] <= 600
        commands = entry["inputs"]["runCommand"]
        assert len(commands) == 1 and "\n" in commands[0]
    parameters = content["parameters"]
    assert all(spec["type"] == "String" and spec["description"] for spec in parameters.values())
    assert defaults(content) == {
        "PasswordLength": "24",
        "ParameterPrefix": "/BreakGlass",
        "KmsKeyId": "alias/break-glass",
    }
    # Every reference resolves to a declared parameter, and every parameter is used.
    assert references(content) == set(parameters)
    length = re.compile(parameters["PasswordLength"]["allowedPattern"])
    assert [n for n in range(300) if length.search(str(n))] == list(range(14, 129))
    assert not any(length.search(value) for value in ("024", "24 ", "2.4", "-24"))
    prefix = re.compile(parameters["ParameterPrefix"]["allowedPattern"])
    assert all(prefix.search(value) for value in ("/BreakGlass", "/team/break-glass_1.x"))
    assert not any(prefix.search(value) for value in ("BreakGlass", "/BreakGlass/", "/a b", "/a'b", "/a;b", "//a"))


def test_pin_parameter_allows_only_the_pinned_value() -> None:
    content = load_document("break_glass")
    key_arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    pin_parameter(content, "ParameterPrefix", "/Team/BreakGlass")
    pin_parameter(content, "KmsKeyId", key_arn)
    for name, value in (("ParameterPrefix", "/Team/BreakGlass"), ("KmsKeyId", key_arn)):
        spec = content["parameters"][name]
        assert spec["default"] == value and spec["allowedValues"] == [value] and "allowedPattern" not in spec
    assert "allowedPattern" in load_document("break_glass")["parameters"]["ParameterPrefix"], "cache was mutated"


# --------------------------------------------------------------------------- static checks


def test_linux_script_passes_shellcheck(tmp_path: Path) -> None:
    script = tmp_path / "break_glass.sh"
    script.write_text(_script(LINUX), encoding="utf-8")
    result = subprocess.run(
        [_tool("shellcheck"), "-s", "bash", "-S", "style", str(script)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_linux_script_only_hands_the_password_to_builtins() -> None:
    lines = [line.strip() for line in _script(LINUX).splitlines()]
    assert lines[0] == "#!/bin/bash" and "set +x" in lines and "set -euo pipefail" in lines and "umask 077" in lines
    assert not any(
        re.search(r"\bset -[a-z]*x|\bexport\b|\becho\b|169\.254\.169\.254/latest/meta-data", line) for line in lines
    )
    for line in (line for line in lines if re.search(r"\$\{?password\b", line)):
        assert line.startswith(("printf ", "password=", "[[ ", "if ((${#password}")), line
        if line.startswith("printf "):
            assert line.endswith(('>"$workdir/value"', "| chpasswd ||")), line
    text = "\n".join(lines)
    assert text.index("put-parameter") < text.index("chpasswd"), "the password must be stored before it is set"


@pytest.fixture(scope="module")
def powershell() -> str:
    return _script(WINDOWS, KmsKeyId="arn:aws:kms:us-east-1:123456789012:key/k")


def test_powershell_parses(powershell: str) -> None:
    parser = Parser(Language(tsp.language()))
    assert parser.parse(b"if ($x -eq {").root_node.has_error, "the parser must detect errors"
    root = parser.parse(powershell.encode()).root_node
    bad, stack = [], [root]
    while stack:
        node = stack.pop()
        bad += [f"{node.type} at {node.start_point}"] if node.is_error or node.is_missing else []
        stack.extend(node.children)
    assert not root.has_error and not bad, bad


def test_powershell_is_51_compatible_and_keeps_the_secret(powershell: str) -> None:
    code = "\n".join(line for line in powershell.splitlines() if not line.lstrip().startswith("#"))
    assert "[System.Security.Cryptography.RandomNumberGenerator]::Create()" in code and "Get-Random" not in code
    for pattern in (r"\?\?", r"\?\.", r"&&", r"\|\|", r"\s\?\s", r"-Parallel\b", r"\bClean\s*\{"):
        assert not re.search(pattern, code), f"not Windows PowerShell 5.1: {pattern}"
    for expected in ("$ErrorActionPreference = 'Stop'", "Set-PSDebug -Off", "exit 1", "SID LIKE '%-500'"):
        assert expected in code
    assert "$env:AWS_SSM_INSTANCE_ID" in code and "X-aws-ec2-metadata-token-ttl-seconds" in code
    assert "Write-SSMParameter" not in code, "a cmdlet parameter binding is logged by module logging (4103)"
    for expected in (
        "Import-Module -Name AWS.Tools.SimpleSystemsManagement",
        "[Amazon.RegionEndpoint]::GetBySystemName($region)",
        "$request.Type = [Amazon.SimpleSystemsManagement.ParameterType]::SecureString",
        "$request.KeyId = 'arn:",
        "$request.Overwrite = $true",
        "$request.Value = $password",
    ):
        assert expected in code, expected
    store = code.index("$ssm.PutParameterAsync($request).GetAwaiter().GetResult()")
    assert code.index("Import-Module") < code.index("$password = $chars.ToString()"), (
        "load the SDK before the password exists"
    )
    assert store < code.index(".SetPassword($password)"), "the password must be stored before it is set"
    shown = r"(Write-(Output|Host|Verbose|Debug|Information|Warning|Error)|Out-\w+|\w+-Content|::\w+\.Write)[^\n]*\$password"
    assert not re.search(shown, code, re.IGNORECASE), "the password is written to output"
    assert "Remove-Variable -Name password" in code and "Remove-Variable -Name request" in code


# ------------------------------------------------- where the password may go (argv, env, 4103)

#: The variable the Windows script keeps the password in (names are case-insensitive in PowerShell).
PS_SECRET = "password"
_PS_SCOPE = re.compile(r"^(?:global|local|script|private|using):", re.IGNORECASE)
#: A right-hand side that is only a copy of one variable ($chars.ToString(), $x, $x.Value, $x[0]).
_PS_COPY = re.compile(r"\$(\{[^}]+\}|[\w:]+)(?:\.\w+(?:\(\s*\))?|\[[^\]]*\])*")


def _ps_name(variable: str) -> str:
    """`$password`, `${password}`, `$script:Password`, `@password` (splatting) -> `password`."""
    name = variable.lstrip("$@").removeprefix("{").removesuffix("}")
    return _PS_SCOPE.sub("", name).lower()


def _ps_nodes(node: Any, kind: str) -> Iterator[Any]:
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type == kind:
            yield current
        stack.extend(reversed(current.children))


def _ps_references(node: Any) -> set[str]:
    return {_ps_name(v.text.decode()) for v in _ps_nodes(node, "variable")} - {"null", "true", "false", "_"}


def powershell_password_leaks(script: str, secret: str = PS_SECRET) -> list[str]:
    """Commands whose arguments or pipeline input reference the password or a value derived from it.

    Module logging (event 4103) records the parameter bindings of every command: cmdlets, functions,
    scripts and native executables (whose arguments are also visible to every process on the machine).
    Method calls (`$client.PutParameterAsync($request)`, `$user.SetPassword($password)`) and property
    assignments are not commands, so they are allowed.

    Taint: the password variable; every variable assigned (also by `foreach`, a cast or a property,
    `$request.Value = $password` taints `$request`) from an expression that references a tainted
    variable; and the variable a tainted one is a mere copy of (`$password = $chars.ToString()` taints
    the StringBuilder `$chars`, which holds the same characters). Flow-insensitive, to a fixed point:
    conservative, so a false alarm is possible but a missed leak through these paths is not.
    """
    root = Parser(Language(tsp.language())).parse(script.encode()).root_node
    assert not root.has_error, "the script does not parse"
    flows: list[tuple[set[str], set[str], str | None]] = []  # (targets, sources, copied variable)
    for assignment in _ps_nodes(root, "assignment_expression"):
        left, _, right = assignment.children[0], assignment.children[1], assignment.children[-1]
        targets = [_ps_name(v.text.decode()) for v in _ps_nodes(left, "variable")][:1]
        copy = _PS_COPY.fullmatch(right.text.decode().strip())
        whole = re.fullmatch(r"(\[[^\]]+\]\s*)*\$\S+", left.text.decode().strip()) and "." not in left.text.decode()
        copied = _ps_name("$" + copy.group(1)) if copy and whole else None
        flows.append((set(targets) - {"null"}, _ps_references(right), copied))
    for loop in _ps_nodes(root, "foreach_statement"):
        variables = [c for c in loop.children if c.type == "variable"]
        source = next((c for c in loop.children if c.type == "pipeline"), None)
        if variables and source is not None:
            flows.append(({_ps_name(variables[0].text.decode())}, _ps_references(source), None))
    tainted = {secret}
    while True:
        before = set(tainted)
        for targets, sources, copied in flows:
            if sources & tainted:
                tainted |= targets
            if copied and targets & tainted:
                tainted.add(copied)
        if tainted == before:
            break
    leaks = []
    for chain in _ps_nodes(root, "pipeline_chain"):
        if not any(c.type == "command" for c in chain.children):
            continue
        # Every element of a pipeline that runs a command: the command's own arguments, and any
        # expression piped into it (pipeline input is bound to a parameter and logged the same way).
        for element in chain.children:
            if element.type != "|" and _ps_references(element) & tainted:
                leaks.append(f"line {element.start_point[0] + 1}: {' '.join(element.text.decode().split())}")
    return leaks


#: Bash builtins that may see the password: they run inside the shell process, so their arguments are
#: never handed to execve() and appear in no /proc/<pid>/cmdline, and they export nothing.
#: (printf writes to a private file or a pipe; [[ ]] and (( )) only test it; unset drops it.)
SH_BUILTINS = frozenset({"printf", "[[", "((", "test", "[", "unset", "local", "declare", "typeset", "readonly", ":"})
SH_SECRET = "password"
_SH_KEYWORDS = frozenset({"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "time"})
_SH_ASSIGNMENT = re.compile(r"([A-Za-z_]\w*)(?:\[[^\]]*\])?\+?=(.*)", re.DOTALL)


def _sh_simple_commands(script: str) -> list[str]:
    """Split a bash script into simple commands: at newlines, `;`, `&`, `|`, `||` and `&&` outside
    quotes, `[[ ]]` and `(( ))`; each `$( )` is also returned as commands of its own (and stays in the
    word around it, whose value it is). Comments are dropped."""
    commands: list[str] = []

    def split(text: str) -> None:
        current, i, quote, mode, depth = "", 0, "", "", 0
        while i < len(text):
            char = text[i]
            word_start = not current.strip() or current[-1] in " \t"
            if quote == "'":
                quote = "" if char == "'" else quote
                current, i = current + char, i + 1
            elif char == "\\":
                current, i = current + text[i : i + 2], i + 2
            elif char in "'\"" and not quote:
                quote, current, i = char, current + char, i + 1
            elif char == '"' and quote == '"':
                quote, current, i = "", current + char, i + 1
            elif text.startswith("$(", i) and not text.startswith("$((", i):
                j, level, inner_quote = i + 2, 1, ""
                while j < len(text) and level:
                    if inner_quote:
                        inner_quote = "" if text[j] == inner_quote else inner_quote
                    elif text[j] in "'\"":
                        inner_quote = text[j]
                    else:
                        level += {"(": 1, ")": -1}.get(text[j], 0)
                    j += 1
                split(text[i + 2 : j - 1])
                current, i = current + text[i:j], j
            elif quote:
                current, i = current + char, i + 1
            elif char == "#" and word_start:
                while i < len(text) and text[i] != "\n":
                    i += 1
            elif not mode and word_start and text.startswith("[[", i):
                mode, current, i = "[[", current + "[[", i + 2
            elif not mode and word_start and text.startswith("((", i):
                mode, depth, current, i = "((", 2, current + "((", i + 2
            elif mode == "[[" and text.startswith("]]", i) and current[-1] in " \t":
                mode, current, i = "", current + "]]", i + 2
            elif mode == "((" and char in "()":
                depth += 1 if char == "(" else -1
                mode = mode if depth else ""
                current, i = current + char, i + 1
            elif not mode and char in "\n;&|":
                commands.append(current)
                current, i = "", i + 1
            else:
                current, i = current + char, i + 1
        commands.append(current)

    split(script.replace("\\\n", " "))
    return [command.strip() for command in commands if command.strip()]


def _sh_words(command: str) -> list[str]:
    try:
        words = shlex.split(command, comments=False, posix=True)
    except ValueError:
        words = command.split()
    while words and words[0] in _SH_KEYWORDS:
        words = words[1:]
    return words


def shell_password_leaks(script: str, secret: str = SH_SECRET) -> list[str]:
    """Simple commands that hand the password (or a value derived from it) to another process.

    argv: any word of a command that is not one of SH_BUILTINS and references a tainted variable.
    environment: `export`, `declare -x`, `set -a`/`set -o allexport`, or a prefix assignment
    (`password=... cmd`, `VALUE="$password" cmd`, which puts the value into cmd's environment).
    Taint: the password variable and every variable assigned from a word that references a tainted
    one (`line="root:$password"`), flow-insensitive, to a fixed point. Function calls count as
    commands: their arguments are not checked inside the function, so they are not trusted.
    """
    commands = [(command, _sh_words(command)) for command in _sh_simple_commands(script)]

    def refers(word: str, names: set[str]) -> bool:
        return any(re.search(rf"\$\{{?[#!]?{re.escape(n)}\b", word) for n in names)

    tainted = {secret}
    while True:
        before = set(tainted)
        for _, words in commands:
            declared = words[1:] if words and words[0] in {"local", "declare", "typeset", "readonly"} else words
            for word in declared:
                match = _SH_ASSIGNMENT.fullmatch(word)
                if match and refers(match.group(2), tainted):
                    tainted.add(match.group(1))
        if tainted == before:
            break
    leaks = []
    for command, words in commands:
        prefix = []
        while words and _SH_ASSIGNMENT.fullmatch(words[0]):
            prefix, words = [*prefix, words[0]], words[1:]
        if not words:
            continue  # assignments only: shell variables, not exported (unless set -a, checked below)
        name, arguments = words[0], words[1:]
        exported = [w for w in prefix if _SH_ASSIGNMENT.fullmatch(w)[1] in tainted or refers(w, tainted)]
        if exported:
            leaks.append(f"environment of {name}: {command}")
        if name == "set" and any(a == "allexport" or re.fullmatch(r"-[a-z]*a[a-z]*", a) for a in arguments):
            leaks.append(f"set -a exports every variable: {command}")
        flags = "".join(a for a in arguments if a.startswith("-"))
        if name == "export" or (name in {"declare", "typeset", "local", "readonly"} and "x" in flags):
            named = {(_SH_ASSIGNMENT.fullmatch(a) or re.match(r"(.*)", a))[1] for a in arguments}
            if named & tainted or any(refers(a, tainted) for a in arguments):
                leaks.append(f"exported: {command}")
        elif name not in SH_BUILTINS and any(refers(a, tainted) for a in arguments):
            leaks.append(f"argv of {name}: {command}")
    return leaks


MADE_UP_POWERSHELL = """
$password = $chars.ToString()
$secure = ConvertTo-SecureString -String $password -AsPlainText -Force
Write-SSMParameter -Name $name -Value $password -Type SecureString
net user Administrator $password
$line = 'Administrator:' + $password
$line | Out-File -FilePath $path
Set-LocalUser -Name Administrator -Password $secure
$request.Value = $password
Send-Request -InputObject $request
Write-Output "$($chars.Length) characters"
$user.SetPassword($password)
"""


def test_the_leak_finders_report_made_up_leaks() -> None:
    # The Windows finder: cmdlets, a native executable, pipeline input and values derived from the
    # password (a SecureString, a concatenation, a request object, the StringBuilder it was built in).
    assert powershell_password_leaks(MADE_UP_POWERSHELL) == [
        "line 3: ConvertTo-SecureString -String $password -AsPlainText -Force",
        "line 4: Write-SSMParameter -Name $name -Value $password -Type SecureString",
        "line 5: net user Administrator $password",
        "line 7: $line",
        "line 8: Set-LocalUser -Name Administrator -Password $secure",
        "line 10: Send-Request -InputObject $request",
        'line 11: Write-Output "$($chars.Length) characters"',
    ]
    assert powershell_password_leaks("$password = 'x'\n$user.SetPassword($password)\n$n = $password.Length") == []
    # The Linux finder: argv of an external command (directly, derived, through a function) and the
    # environment (export, declare -x, set -a, prefix assignments).
    bad_shell = {
        'aws ssm put-parameter --name "$name" --value "$password"': "argv of aws",
        'line="root:${password}"\nrun_it "$line"': "argv of run_it",
        'chpasswd <<<"root:$password"': "argv of chpasswd",
        "export password": "exported",
        'declare -x secret="$password"': "exported",
        "set -a": "set -a",
        'password="$(head -c 9 /dev/urandom)" aws ssm put-parameter': "environment of aws",
        'VALUE="$password" aws ssm put-parameter --value "$VALUE"': "environment of aws",
        'if [[ -n "$x" ]]; then curl -d "p=$password" "$url"; fi': "argv of curl",
        'x="$(printf %s "$password" | base64)"\nlogger "$x"': "argv of logger",
    }
    for script, expected in bad_shell.items():
        found = shell_password_leaks(script)
        assert any(leak.startswith(expected) for leak in found), (script, found)
    good_shell = 'printf \'%s\' "$password" >"$f"\n[[ "$password" =~ [[:upper:]] && "$password" =~ x ]]\n'
    good_shell += (
        'if ((${#password} == n)) && [[ -n "$password" ]]; then :; fi\nprintf \'root:%s\\n\' "$password" | chpasswd\n'
    )
    good_shell += 'password="${password:0:n}"\nunset password'
    assert shell_password_leaks(good_shell) == []


def test_windows_step_binds_the_password_to_no_command(powershell: str) -> None:
    assert "$password = $chars.ToString()" in powershell, "the password variable moved: update PS_SECRET"
    assert powershell_password_leaks(powershell) == []


def test_linux_step_hands_the_password_to_no_process() -> None:
    script = _script(LINUX)
    assert re.search(r"^\s*password=\S", script, re.MULTILINE), "the password variable moved: update SH_SECRET"
    assert shell_password_leaks(script) == []


# --------------------------------------------------------------------- sandbox runs (Linux)


@pytest.fixture(scope="module")
def moto() -> Iterator[SimpleNamespace]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    key_arn = session.client("kms", endpoint_url=endpoint).create_key()["KeyMetadata"]["Arn"]
    yield SimpleNamespace(
        endpoint=endpoint,
        key_arn=key_arn,
        ssm=lambda region="us-east-1": session.client("ssm", endpoint_url=endpoint, region_name=region),
    )
    server.stop()


def _stub(path: Path, body: str) -> None:
    path.write_text(f"#!/bin/bash\n{body}", encoding="utf-8")
    path.chmod(0o755)


def _run(
    sandbox: Path, moto: SimpleNamespace, chpasswd_exit: int = 0, stubs: dict[str, str] | None = None, **env: str | None
) -> SimpleNamespace:
    (sandbox / "bin").mkdir(parents=True)
    (sandbox / "tmp").mkdir()
    # The stub must shadow the real chpasswd: the tests may run as root.
    _stub(sandbox / "bin" / "chpasswd", f'cat >"{sandbox}/chpasswd.stdin"\nexit {chpasswd_exit}\n')
    for name, body in (stubs or {}).items():
        _stub(sandbox / "bin" / name, body)
    script = sandbox / "break_glass.sh"
    script.write_text(_script(LINUX, PasswordLength=str(LENGTH), KmsKeyId=moto.key_arn), encoding="utf-8")
    environment: dict[str, str | None] = {
        "PATH": os.pathsep.join([str(sandbox / "bin"), str(Path(_tool("aws")).parent), "/usr/bin", "/bin"]),
        "HOME": str(sandbox),
        "TMPDIR": str(sandbox / "tmp"),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": moto.endpoint,
        "AWS_CONFIG_FILE": str(sandbox / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(sandbox / "no-credentials"),
        "AWS_SSM_INSTANCE_ID": INSTANCE_ID,
        "AWS_SSM_REGION_NAME": "us-east-1",
    } | env
    result = subprocess.run(
        [_tool("bash"), str(script)],
        env={key: value for key, value in environment.items() if value is not None},
        capture_output=True,
        text=True,
        timeout=60,
    )
    stdin = sandbox / "chpasswd.stdin"
    chpasswd = stdin.read_text(encoding="utf-8") if stdin.exists() else None
    # Output is kept redacted so that no assertion message can show the password.
    secret = chpasswd.removeprefix("root:").rstrip("\n") if chpasswd else None
    leaked = bool(secret) and secret in result.stdout + result.stderr
    out, err = ((text.replace(secret, "<password>") if secret else text) for text in (result.stdout, result.stderr))
    leftovers = list((sandbox / "tmp").iterdir())
    return SimpleNamespace(
        rc=result.returncode, out=out, err=err, chpasswd=chpasswd, leaked=leaked, leftovers=leftovers
    )


def _stored(moto: SimpleNamespace, name: str = NAME, region: str = "us-east-1") -> dict[str, Any] | None:
    ssm = moto.ssm(region)
    found = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])["Parameters"]
    if not found:
        return None
    value = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    ssm.delete_parameter(Name=name)  # every test starts without the parameter
    return found[0] | {"Value": value}


def test_linux_script_stores_then_sets_a_strong_password(tmp_path: Path, moto: SimpleNamespace) -> None:
    reads = tmp_path / "urandom.reads"
    run = _run(tmp_path, moto, stubs={"head": HEAD_STUB.replace("LOG", str(reads))})
    stored = _stored(moto)
    assert run.rc == 0, run.err
    assert stored and stored["Type"] == "SecureString" and stored["KeyId"] == moto.key_arn
    secret = stored["Value"]
    strong = len(secret) == LENGTH and ALLOWED.fullmatch(secret) and all(re.search(c, secret) for c in CLASSES)
    assert strong, "weak password stored"
    assert len(reads.read_text()) >= 2, "the script kept a password without a symbol"
    assert run.chpasswd == f"root:{secret}\n", "chpasswd did not get the stored password"
    assert not run.leaked, "the password was printed"
    assert f"Stored new root password in {NAME}" in run.out and "root password changed" in run.out
    assert run.leftovers == []


def test_passwords_differ_between_runs(tmp_path: Path, moto: SimpleNamespace) -> None:
    passwords = []
    for attempt in ("first", "second"):
        assert _run(tmp_path / attempt, moto).rc == 0
        stored = _stored(moto)
        assert stored
        passwords.append(stored["Value"])
    assert passwords[0] != passwords[1], "two runs produced the same password"


def test_failed_store_leaves_the_password_unchanged(tmp_path: Path, moto: SimpleNamespace) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    run = _run(tmp_path, moto, AWS_ENDPOINT_URL=closed, AWS_MAX_ATTEMPTS="1")
    assert run.rc != 0 and run.chpasswd is None, "chpasswd ran although the password was not stored"
    assert "root password was not changed" in run.err and "Stored" not in run.out
    assert run.leftovers == [] and _stored(moto) is None


def test_failed_password_change_fails_the_command(tmp_path: Path, moto: SimpleNamespace) -> None:
    run = _run(tmp_path, moto, chpasswd_exit=1)
    stored = _stored(moto)
    assert run.rc != 0 and stored and run.chpasswd == f"root:{stored['Value']}\n", "store, then chpasswd, then fail"
    assert "root password changed" not in run.out and run.leftovers == [] and not run.leaked


def test_rejects_a_malformed_instance_id(tmp_path: Path, moto: SimpleNamespace) -> None:
    run = _run(tmp_path, moto, AWS_SSM_INSTANCE_ID="i-0123456789abcdef0/../x")
    assert run.rc != 0 and "unexpected instance id" in run.err and run.chpasswd is None
    assert moto.ssm().describe_parameters()["Parameters"] == [], "stored under a malformed name"


def test_falls_back_to_imdsv2(tmp_path: Path, moto: SimpleNamespace) -> None:
    log = tmp_path / "curl.log"
    curl = CURL_STUB.replace("LOG", str(log))
    run = _run(tmp_path, moto, stubs={"curl": curl}, AWS_SSM_INSTANCE_ID=None, AWS_SSM_REGION_NAME=None)
    assert run.rc == 0, run.err
    token_call, *gets = [line.split("\t") for line in log.read_text(encoding="utf-8").splitlines()]
    assert token_call[-1] == "http://169.254.169.254/latest/api/token" and "PUT" in token_call
    assert any(arg.startswith("X-aws-ec2-metadata-token-ttl-seconds:") for arg in token_call)
    assert sorted(call[-1] for call in gets) == [
        "http://169.254.169.254/latest/meta-data/instance-id",
        "http://169.254.169.254/latest/meta-data/placement/region",
    ]
    assert all("X-aws-ec2-metadata-token: TOKEN-1" in call and "PUT" not in call for call in gets), "IMDSv1 call"
    assert _stored(moto, "/BreakGlass/pwd-i-0fedcba9876543210", region="eu-west-1"), "IMDS id/Region not used"
