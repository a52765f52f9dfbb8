"""A job's artifacts: read its input zips and write its output zips in the artifact store, streaming.

CodePipeline hands artifacts between actions as zip archives in the artifact store's S3 bucket, usually
encrypted with the store's KMS key (SSE-KMS). A Lambda invoke action's job names each of its input and
output artifacts' S3 location, and carries temporary credentials that may read and write exactly there.
:class:`Artifacts` uses them::

    artifacts = Artifacts(job)
    with artifacts.open("SourceOutput") as source:          # downloaded, not yet unpacked
        template = source.read_text("template.yml")
    with artifacts.create("InvokeOutput") as output:        # uploaded when the block ends without error
        output.write("report.json", json.dumps(report))
        output.write_file("dist/app.zip", "/tmp/app.zip")

Nothing holds a whole artifact in memory: a download is spooled to a temporary file (in memory up to
``spool_bytes``, then on disk in Lambda's ``/tmp``), members are decompressed as they are read, and an
output archive is built in the same kind of file and uploaded from it. An output artifact is stored with
SSE-KMS under the job's encryption key when the job names one (as CodePipeline does), else the bucket's
default encryption applies. All S3 calls go through pipepilot's one seam (``pipepilot._calls``): errors
are pipepilot's, throttling is retried, and a retried upload sends the whole file again.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any

from pipepilot.errors import (
    ArgumentTypeError,
    ConnectionFailure,
    InvalidArgumentError,
    MalformedInputError,
)

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType

    import boto3
    from botocore.config import Config

    from pipepilot._calls import Caller
    from pipepilot.awslambda._jobs import Job, JobArtifact

__all__ = ["DEFAULT_SPOOL_BYTES", "Artifacts", "InputArtifact", "OutputArtifact"]

#: Bytes of an artifact kept in memory before its temporary file moves to disk.
DEFAULT_SPOOL_BYTES = 8 * 1024 * 1024
# Bytes copied at a time between a stream and a file.
_CHUNK = 1024 * 1024
# Downloads started again when the connection breaks while the body streams in.
_DOWNLOAD_ATTEMPTS = 3


class Artifacts:
    """Reads a job's input artifacts and writes its output artifacts in the artifact store.

    Requests are signed with the job's artifact credentials (``job.credentials``; the session's own
    credentials when the job has none). ``client`` (a boto3 S3 client) replaces the client made from them;
    ``session``, ``region_name`` and ``config`` shape the one made (default: boto3's default session and
    its region, which in Lambda is the function's, and so the pipeline's and its bucket's). ``spool_bytes``
    is how much of an artifact stays in memory before its temporary file moves to disk.

    Raises:
        ArgumentTypeError: ``job`` is not a :class:`~pipepilot.awslambda.Job`, or ``client`` is not an S3
            client.
        InvalidArgumentError: ``spool_bytes`` is negative.
    """

    def __init__(
        self,
        job: Job,
        *,
        client: Any = None,
        session: boto3.session.Session | None = None,
        region_name: str | None = None,
        config: Config | None = None,
        spool_bytes: int = DEFAULT_SPOOL_BYTES,
    ) -> None:
        from pipepilot._checks import check_client, check_int
        from pipepilot.awslambda._jobs import Job

        if not isinstance(job, Job):
            raise ArgumentTypeError(
                f"job must be a pipepilot.awslambda.Job (Job.from_event(event)), not {type(job).__name__}",
                parameter="job",
            )
        check_client(client, "client", "s3")
        check_int(spool_bytes, "spool_bytes")
        if spool_bytes < 0:
            raise InvalidArgumentError("spool_bytes must be zero or more", parameter="spool_bytes")
        self.job = job
        self.spool_bytes = spool_bytes
        self._client = client
        self._session = session
        self._region_name = region_name
        self._config = config
        self._caller: Caller[Any] | None = None

    def __repr__(self) -> str:
        return f"<Artifacts of job {self.job.job_id}>"

    def caller(self) -> Caller[Any]:
        """The S3 caller (made on first use, with the job's credentials)."""
        if self._caller is None:
            from pipepilot._calls import ClientSettings, make_client

            client = self._client
            if client is None:
                credentials = self.job.credentials
                client = make_client(
                    "s3",
                    session=self._session,
                    region_name=self._region_name,
                    config=self._config,
                    credentials=(
                        None
                        if credentials is None
                        else (
                            credentials.access_key_id,
                            credentials.secret_access_key,
                            credentials.session_token,
                        )
                    ),
                )
            self._caller = ClientSettings().caller("s3", client)
        return self._caller

    def open(self, name: str | None = None) -> InputArtifact:
        """Download the input artifact ``name`` (or the only one) and open it as a zip archive.

        Use it as a context manager, or call ``close()``: the temporary file goes away then.

        Raises:
            InvalidArgumentError: the job has no such input artifact.
            MalformedInputError: the artifact is not a zip archive.
            NotFoundError, AccessDeniedError, TransientError: from S3 (the object is gone, the credentials
                expired, the connection broke three times).
        """
        artifact = self.job.input_artifact(name)
        spool = self._download(artifact)
        try:
            archive = zipfile.ZipFile(spool)
        except zipfile.BadZipFile:
            spool.close()
            raise MalformedInputError(
                f"input artifact {artifact.name} (s3://{artifact.bucket}/{artifact.key}) is not a zip archive",
                path=artifact.name,
            ) from None
        return InputArtifact(artifact, archive, spool)

    def create(self, name: str | None = None, *, compression: int = zipfile.ZIP_DEFLATED) -> OutputArtifact:
        """Start the output artifact ``name`` (or the only one): add files, then upload it.

        As a context manager it is uploaded when the block ends without an exception (and discarded
        otherwise); or call :meth:`OutputArtifact.upload` yourself.

        Raises:
            InvalidArgumentError: the job has no such output artifact.
        """
        artifact = self.job.output_artifact(name)
        return OutputArtifact(artifact, self, compression=compression)

    def write(self, files: Mapping[str, str | bytes], name: str | None = None) -> JobArtifact:
        """Upload ``files`` (path in the archive -> text or bytes) as the output artifact ``name``.

        Raises:
            InvalidArgumentError: no such output artifact, or a path that is absolute or leaves the archive.
        """
        with self.create(name) as output:
            for path, content in files.items():
                output.write(path, content)
        return output.artifact

    def _spool(self) -> tempfile.SpooledTemporaryFile[bytes]:
        """A new temporary file kept in memory up to ``spool_bytes``."""
        return tempfile.SpooledTemporaryFile(max_size=self.spool_bytes, mode="w+b")

    def _download(self, artifact: JobArtifact) -> tempfile.SpooledTemporaryFile[bytes]:
        """The object of ``artifact``, streamed into a temporary file (rewound)."""
        from botocore.exceptions import BotoCoreError
        from urllib3.exceptions import HTTPError

        last: Exception | None = None
        for _ in range(_DOWNLOAD_ATTEMPTS):
            response = self.caller().call(
                "get_object", idempotent=True, Bucket=artifact.bucket, Key=artifact.key
            )
            body = response["Body"]
            spool = self._spool()
            try:
                while chunk := body.read(_CHUNK):
                    spool.write(chunk)
            except (BotoCoreError, HTTPError, OSError) as exc:
                # The connection broke while the body streamed in: start the download again.
                spool.close()
                last = exc
                continue
            finally:
                body.close()
            spool.seek(0)
            return spool
        raise ConnectionFailure(
            f"downloading input artifact {artifact.name} failed {_DOWNLOAD_ATTEMPTS} times: {type(last).__name__}"
        ) from last

    def _upload(self, artifact: JobArtifact, spool: IO[bytes]) -> None:
        """Upload ``spool`` (a finished zip) to ``artifact``'s location, SSE-KMS with the job's key if any."""
        spool.seek(0)
        params: dict[str, Any] = {"Bucket": artifact.bucket, "Key": artifact.key, "Body": spool}
        key = self.job.encryption_key
        if key is not None and key.type == "KMS":
            params["ServerSideEncryption"] = "aws:kms"
            params["SSEKMSKeyId"] = key.id
        # Putting the same bytes at the same key twice changes nothing: safe to retry after a lost answer.
        self.caller().call("put_object", idempotent=True, **params)


def _member_path(path: object) -> str:
    """``path`` as a member name: relative, forward slashes, never leaving the archive's root."""
    if not isinstance(path, (str, os.PathLike)):
        raise ArgumentTypeError(
            f"a path in an artifact must be a string, not {type(path).__name__}", parameter="path"
        )
    text = os.fspath(path).replace("\\", "/")
    pure = PurePosixPath(text)
    if not text or pure.is_absolute() or ".." in pure.parts or text.endswith("/"):
        raise InvalidArgumentError(
            f"a path in an artifact must be a relative file path inside it, not {text[:200]!r}",
            parameter="path",
        )
    return str(pure)


class InputArtifact:
    """A downloaded input artifact: a zip archive whose members are decompressed as they are read.

    ``artifact`` is where it came from; ``size`` its size in bytes. Close it (or use it in a ``with``
    block) to remove its temporary file.
    """

    def __init__(self, artifact: JobArtifact, archive: zipfile.ZipFile, spool: IO[bytes]) -> None:
        self.artifact = artifact
        self._archive = archive
        self._spool = spool
        spool.seek(0, os.SEEK_END)
        self.size = spool.tell()

    def __repr__(self) -> str:
        return f"<InputArtifact {self.artifact.name} ({self.size:,} bytes)>"

    def __enter__(self) -> InputArtifact:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the archive and remove its temporary file."""
        self._archive.close()
        self._spool.close()

    def names(self) -> list[str]:
        """The paths of the files in the archive (folders left out), in archive order."""
        return [info.filename for info in self._archive.infolist() if not info.is_dir()]

    def open(self, path: str) -> IO[bytes]:
        """A binary stream of the file ``path``, decompressed as it is read.

        Raises:
            InvalidArgumentError: the archive has no such file.
        """
        try:
            return self._archive.open(path)
        except KeyError:
            raise InvalidArgumentError(
                f"input artifact {self.artifact.name} has no file {path!r}", parameter="path"
            ) from None

    def read(self, path: str) -> bytes:
        """The bytes of the file ``path`` (for small files; :meth:`open` streams large ones).

        Raises:
            InvalidArgumentError: the archive has no such file.
        """
        with self.open(path) as member:
            return member.read()

    def read_text(self, path: str, *, encoding: str = "utf-8") -> str:
        """The text of the file ``path``.

        Raises:
            InvalidArgumentError: the archive has no such file.
        """
        return self.read(path).decode(encoding)

    def extract(self, directory: str | os.PathLike[str]) -> Path:
        """Unpack every file into ``directory`` (created if need be), streaming; returns it as a ``Path``.

        Raises:
            MalformedInputError: a member's path is absolute or leaves the directory (nothing is written
                outside it).
        """
        target = Path(directory).resolve()
        target.mkdir(parents=True, exist_ok=True)
        for info in self._archive.infolist():
            destination = (target / info.filename).resolve()
            if not destination.is_relative_to(target):
                raise MalformedInputError(
                    f"input artifact {self.artifact.name} has a file outside the archive's root: "
                    f"{info.filename[:200]!r}",
                    path=info.filename,
                )
            if info.is_dir():
                destination.mkdir(parents=True, exist_ok=True)
                continue
            destination.parent.mkdir(parents=True, exist_ok=True)
            with self._archive.open(info) as source, destination.open("wb") as sink:
                shutil.copyfileobj(source, sink, _CHUNK)
        return target


class OutputArtifact:
    """An output artifact being built: add files, then :meth:`upload` (a ``with`` block does it).

    Files are compressed into a temporary zip as they are added (in memory up to ``spool_bytes``, then on
    disk); the upload streams that file. ``artifact`` is where it goes.
    """

    def __init__(self, artifact: JobArtifact, artifacts: Artifacts, *, compression: int) -> None:
        self.artifact = artifact
        self._artifacts = artifacts
        self._spool = artifacts._spool()
        self._archive = zipfile.ZipFile(self._spool, "w", compression=compression)
        self._compression = compression
        self._finished = False  # the archive is complete: nothing more can be added
        self._uploaded = False

    def __repr__(self) -> str:
        state = "uploaded" if self._uploaded else f"{len(self._archive.infolist())} files"
        return f"<OutputArtifact {self.artifact.name} ({state})>"

    def __enter__(self) -> OutputArtifact:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.upload()
        else:
            self.discard()

    def _entry(self, path: object) -> zipfile.ZipInfo:
        """A zip entry for ``path``, stamped now, with this artifact's compression."""
        if self._finished:
            raise InvalidArgumentError(
                f"output artifact {self.artifact.name} is finished already", parameter="path"
            )
        entry = zipfile.ZipInfo(_member_path(path), date_time=time.gmtime()[:6])
        entry.compress_type = self._compression
        entry.external_attr = 0o644 << 16  # a regular file, rw-r--r--
        return entry

    def write(self, path: str, content: str | bytes) -> None:
        """Add a file ``path`` holding ``content`` (text is encoded as UTF-8).

        Raises:
            InvalidArgumentError: the path is absolute or leaves the archive, or it was uploaded already.
            ArgumentTypeError: ``content`` is neither text nor bytes.
        """
        if not isinstance(content, (str, bytes)):
            raise ArgumentTypeError(
                f"content must be str or bytes, not {type(content).__name__}", parameter="content"
            )
        self._archive.writestr(self._entry(path), content.encode() if isinstance(content, str) else content)

    def open(self, path: str) -> IO[bytes]:
        """A writable binary stream for a new file ``path``; close it before adding the next file.

        Raises:
            InvalidArgumentError: the path is absolute or leaves the archive, or it was uploaded already.
        """
        return self._archive.open(self._entry(path), "w", force_zip64=True)

    def write_file(self, path: str, source: str | os.PathLike[str]) -> None:
        """Add the local file ``source`` as ``path``, streamed (never read whole).

        Raises:
            InvalidArgumentError: the path is absolute or leaves the archive, or it was uploaded already.
            FileNotFoundError: ``source`` does not exist.
        """
        with Path(source).open("rb") as reader, self.open(path) as writer:
            shutil.copyfileobj(reader, writer, _CHUNK)

    def write_tree(self, directory: str | os.PathLike[str], *, prefix: str = "") -> int:
        """Add every file under ``directory`` (paths relative to it, under ``prefix``); returns how many.

        Raises:
            InvalidArgumentError: ``prefix`` is absolute or leaves the archive.
        """
        root = Path(directory)
        count = 0
        for file in sorted(root.rglob("*")):
            if file.is_file():
                relative = file.relative_to(root).as_posix()
                self.write_file(f"{prefix.rstrip('/')}/{relative}" if prefix else relative, file)
                count += 1
        return count

    def upload(self) -> JobArtifact:
        """Finish the archive and upload it to the artifact's location; returns the artifact.

        Uploading again after a success does nothing; after a failure it tries again with the same archive.

        Raises:
            NotFoundError, AccessDeniedError, TransientError: from S3.
        """
        if self._uploaded:
            return self.artifact
        if not self._finished:
            self._archive.close()
            self._finished = True
        self._artifacts._upload(self.artifact, self._spool)
        self._uploaded = True
        self._spool.close()
        return self.artifact

    def discard(self) -> None:
        """Drop the archive without uploading it."""
        if not self._uploaded:
            self._uploaded = self._finished = True
            self._archive.close()
            self._spool.close()
