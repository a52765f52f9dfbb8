"""What the engines put in the artifact store: deterministic zip archives and AWS-shaped object keys.

Pipelines hand artifacts from action to action as zip files in the artifact store's S3 bucket; job workers,
deploy actions and tests read them with the job's credentials. The engines write real objects (into moto's
S3) so that reading works offline. Everything here is pure: the same inputs give the same bytes, so a
seeded run stores byte-identical artifacts every time.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["KEY_SUFFIX_LENGTH", "artifact_key", "generated_archive", "missing_bucket_message", "zip_files"]

#: The random part AWS ends an artifact's key with: seven letters and digits (``…/BuildOutpu/AbC12xZ``).
KEY_SUFFIX_LENGTH = 7
_KEY_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Zip entries carry a timestamp; a fixed one (zip's epoch) keeps archives byte-identical across runs.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def artifact_key(pipeline: str, artifact: str, randomness: int) -> str:
    """The S3 key of an output artifact, shaped like AWS's: ``<pipeline[:20]>/<artifact[:10]>/<7 chars>``.

    ``randomness`` (any non-negative integer, e.g. 128 seeded bits) picks the seven letters and digits.
    """
    suffix = []
    for _ in range(KEY_SUFFIX_LENGTH):
        randomness, digit = divmod(randomness, len(_KEY_ALPHABET))
        suffix.append(_KEY_ALPHABET[digit])
    return f"{pipeline[:20]}/{artifact[:10]}/{''.join(suffix)}"


def zip_files(files: Mapping[str, str | bytes]) -> bytes:
    """A zip archive of ``files`` (path -> text or bytes), identical bytes for identical input."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(files):
            entry = zipfile.ZipInfo(path, date_time=_ZIP_EPOCH)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16  # a regular file, rw-r--r--
            content = files[path]
            archive.writestr(entry, content.encode() if isinstance(content, str) else content)
    return buffer.getvalue()


def generated_archive(title: str, details: Mapping[str, str | None]) -> bytes:
    """A small stand-in archive: a README naming what produced it and ``revision.json`` with ``details``.

    Used where the offline engine has no real content to hand on (a commit of a Git provider, a build or
    an action that nobody scripted files for).
    """
    readme = f"{title}\n\nGenerated offline by pipepilot.local; the details are in revision.json.\n"
    return zip_files(
        {
            "README.md": readme,
            "revision.json": json.dumps({k: v for k, v in details.items() if v is not None}, indent=2) + "\n",
        }
    )


def missing_bucket_message(artifact: str, bucket: str) -> str:
    """The error an action fails with when its artifact store bucket does not exist."""
    return (
        f"Unable to upload the output artifact {artifact} to the artifact store: the S3 bucket {bucket} "
        "does not exist (Service: Amazon S3; Status Code: 404; Error Code: NoSuchBucket). Create the "
        "bucket, or point the pipeline's artifactStore at an existing one."
    )
