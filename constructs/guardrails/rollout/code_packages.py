"""code_packages: the Lambda code of the StackSet templates, zipped at synth so its SHA-256 is known.

A content-hash object key says what the code *should* be, not what the asset bucket holds. So the
StackSet templates do not let ``cdk-assets`` zip their code directories at publish time: synth writes
each zip itself, byte for byte reproducible, and records its SHA-256. ``cdk-assets`` then uploads the
file as it is, with ``ChecksumAlgorithm: SHA256`` (S3 stores the object's full SHA-256 for a
single-part upload), and the code-version reader pins an object version only when S3's
``ChecksumSHA256`` of it is that digest (:mod:`guardrails.rollout.version_reader`).

Reproducible: entries sorted by path, a fixed timestamp (1980-01-01, the earliest a zip can hold),
permissions 0644 or 0755 (the source's executable bit) and no compression, so the bytes do not
depend on the machine's zlib. The same source therefore gives the same file on every synth, which
matters because ``cdk-assets`` skips a key that already exists. Those files get their own keys
(:func:`published_key`): a key uploaded earlier by ``cdk-assets``' own zip is never reused.
"""

from __future__ import annotations

import base64
import hashlib
import os
import zipfile
from pathlib import Path

_EPOCH = (1980, 1, 1, 0, 0, 0)
_SUFFIX = ".zip"
PUBLISHED_SUFFIX = ".synth.zip"


def published_key(key: str) -> str:
    """The asset-bucket key of a StackSet template's code object whose CDK asset key is ``key``
    (``<hash>.zip`` -> ``<hash>.synth.zip``; the first 12 characters, which name its parameters, stay)."""
    return key.removesuffix(_SUFFIX) + PUBLISHED_SUFFIX if not key.endswith(PUBLISHED_SUFFIX) else key


def write_zip(directory: Path, target: Path) -> None:
    """Zip every file under ``directory`` into ``target``, reproducibly (see the module docstring)."""
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(directory).as_posix(), date_time=_EPOCH)
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16  # a regular file with that mode
            info.create_system = 3  # Unix, so the mode is read
            archive.writestr(info, path.read_bytes(), compress_type=zipfile.ZIP_STORED)


def sha256_base64(path: Path) -> str:
    """The SHA-256 of the file, base64-encoded as S3 reports ``ChecksumSHA256``
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html)."""
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()
