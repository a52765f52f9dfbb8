"""A job worker's artifact helpers: read input zips and write output zips with the job's credentials.

End to end in the offline engine (moto's S3, SSE-KMS artifact store), and, for memory, against an S3
served from disk through botocore's ``before-send`` hook, so that only pipepilot's own buffers count.
"""

from __future__ import annotations

import hashlib
import io
import os
import tracemalloc
import zipfile
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.config import Config

import pipepilot.local
from pipepilot._calls import make_client, new_session
from pipepilot.awslambda import Artifacts, Job, Success, job_worker
from pipepilot.awslambda._jobs import reset_answered_jobs
from pipepilot.errors import InvalidArgumentError, MalformedInputError

from ...engine.conformance._support import (
    HOUR,
    REGION,
    SOURCE_BUCKET,
    Env,
    lambda_action,
    s3_source,
    stage,
    zip_text,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

FUNCTION = "artifact-worker"
KMS_KEY = f"arn:aws:kms:{REGION}:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
MIB = 1024 * 1024


@pytest.fixture
def env() -> Iterator[Env]:
    """A fresh offline world with the conformance fixtures."""
    reset_answered_jobs()
    with pipepilot.local.offline(region=REGION, seed=0) as aws:
        yield Env.open(aws)


def test_worker_reads_its_input_and_writes_its_output_sse_kms(env: Env) -> None:
    """The input zip is read with the job's credentials; the output is uploaded SSE-KMS under the store's key."""
    env.s3.put_object(
        Bucket=SOURCE_BUCKET, Key="app.zip", Body=zip_text({"VERSION": "1.4.0", "src/app.py": "x"})
    )

    @job_worker
    def worker(job: Job, context: Any) -> Success:
        artifacts = Artifacts(job)
        with artifacts.open("SourceOutput") as source:
            version = source.read_text("VERSION")
            names = source.names()
        with artifacts.create() as output:
            output.write("release.txt", f"release {version}\n")
            output.write("files.txt", "\n".join(names))
        return Success(output_variables={"VERSION": version})

    env.aws.register_lambda(FUNCTION, worker)
    declaration = env.declaration(
        stage("Source", s3_source()),
        stage(
            "Invoke",
            lambda_action(
                "Invoke",
                function=FUNCTION,
                inputs=("SourceOutput",),
                outputs=("Release",),
                namespace="Invoke",
            ),
        ),
    )
    declaration["artifactStore"]["encryptionKey"] = {"id": KMS_KEY, "type": "KMS"}
    execution = env.create(declaration)
    env.run_until_status(execution, "Succeeded", limit=HOUR)

    [run] = env.runs_of("Invoke", "Invoke", execution)
    assert run["output"]["outputVariables"] == {"VERSION": "1.4.0"}
    location = run["output"]["outputArtifacts"][0]["s3location"]
    head = env.s3.head_object(Bucket=location["bucket"], Key=location["key"])
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == KMS_KEY
    body = env.s3.get_object(Bucket=location["bucket"], Key=location["key"])["Body"].read()
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.read("release.txt") == b"release 1.4.0\n"
        assert archive.read("files.txt").decode().split("\n") == ["VERSION", "src/app.py"]


def _job(*, key: str | None = None) -> Job:
    """A job with one input (``in/source.zip``) and one output (``out/result.zip``) in bucket ``store``."""
    data: dict[str, Any] = {
        "actionConfiguration": {"configuration": {"FunctionName": FUNCTION}},
        "inputArtifacts": [
            {
                "name": "Source",
                "revision": None,
                "location": {
                    "type": "S3",
                    "s3Location": {"bucketName": "store", "objectKey": "in/source.zip"},
                },
            }
        ],
        "outputArtifacts": [
            {
                "name": "Result",
                "revision": None,
                "location": {
                    "type": "S3",
                    "s3Location": {"bucketName": "store", "objectKey": "out/result.zip"},
                },
            }
        ],
        "artifactCredentials": {
            "accessKeyId": "ASIAJOB",
            "secretAccessKey": "job-secret",
            "sessionToken": "job-token",
        },
    }
    if key is not None:
        data["encryptionKey"] = {"id": key, "type": "KMS"}
    return Job.from_api(
        {"id": "11111111-2222-3333-4444-555555555555", "accountId": "123456789012", "data": data}
    )


class _Raw:
    """A file as an HTTP response body: botocore reads it in chunks."""

    def __init__(self, file: Any) -> None:
        self._file = file

    def read(self, amt: int | None = None) -> bytes:
        data: bytes = self._file.read(-1 if amt is None else amt)
        if not data:
            self._file.close()
        return data

    def stream(self, **_: Any) -> Iterator[bytes]:
        while chunk := self.read(MIB):
            yield chunk

    def close(self) -> None:
        self._file.close()


class DiskS3:
    """S3 GetObject / PutObject served from a folder through botocore's before-send hook (no network).

    Bodies are copied in chunks between the request and the files, so the only large buffers in the
    process are the ones the code under test makes. ``requests`` records (method, key, headers).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[tuple[str, str, dict[str, str]]] = []

    def path(self, key: str) -> Path:
        return self.root / key.replace("/", "__")

    def __call__(self, request: Any, **_: Any) -> AWSResponse:
        parts = unquote(urlsplit(request.url).path).lstrip("/").split("/", 1)
        key = parts[1]
        headers = {
            name: value.decode() if isinstance(value, bytes) else str(value)
            for name, value in request.headers.items()
        }
        self.requests.append((request.method, key, headers))
        if request.method == "PUT":
            with self.path(key).open("wb") as sink:
                body = request.body
                while chunk := body.read(MIB):
                    sink.write(chunk)
            return AWSResponse(
                request.url, 200, HTTPHeaders.from_dict({"ETag": '"etag"'}), _Raw(io.BytesIO(b""))
            )
        file = self.path(key)
        return AWSResponse(
            request.url,
            200,
            HTTPHeaders.from_dict({"Content-Length": str(file.stat().st_size)}),
            _Raw(file.open("rb")),
        )


@pytest.fixture
def disk_s3(tmp_path: Path) -> tuple[Any, DiskS3]:
    """An S3 client (pipepilot's seam) whose requests DiskS3 answers from ``tmp_path``."""
    store = DiskS3(tmp_path / "s3")
    store.root.mkdir()
    client = make_client(
        "s3",
        session=new_session(region_name=REGION, credentials=("unused", "unused")),
        config=Config(s3={"addressing_style": "path"}, request_checksum_calculation="when_required"),
        credentials=("ASIAJOB", "job-secret", "job-token"),
    )
    client.meta.events.register("before-send.s3", store)
    return client, store


def test_large_artifacts_stream_with_bounded_memory(disk_s3: tuple[Any, DiskS3], tmp_path: Path) -> None:
    """A 48 MiB input is read and a 48 MiB output written with a peak of traced memory under 16 MiB."""
    client, store = disk_s3
    size = 48 * MIB
    payload = tmp_path / "payload.bin"
    digest = hashlib.sha256()
    with payload.open("wb") as file:
        for _ in range(size // MIB):
            chunk = os.urandom(MIB)
            digest.update(chunk)
            file.write(chunk)
    with zipfile.ZipFile(store.path("in/source.zip"), "w", compression=zipfile.ZIP_STORED) as archive:
        archive.write(payload, "payload.bin")
    artifacts = Artifacts(_job(key=KMS_KEY), client=client)

    tracemalloc.start()
    try:
        with artifacts.open() as source:
            assert source.size > size
            read = hashlib.sha256()
            with source.open("payload.bin") as member:
                while chunk := member.read(MIB):
                    read.update(chunk)
        with artifacts.create(compression=zipfile.ZIP_STORED) as output:
            output.write_file("copy.bin", payload)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert read.hexdigest() == digest.hexdigest()
    print(f"peak traced memory: {peak / MIB:.2f} MiB for a {size // MIB} MiB artifact read and written")
    assert peak < 16 * MIB, f"peak {peak / MIB:.1f} MiB"
    with zipfile.ZipFile(store.path("out/result.zip")) as archive, archive.open("copy.bin") as member:
        copied = hashlib.sha256()
        while chunk := member.read(MIB):
            copied.update(chunk)
    assert copied.hexdigest() == digest.hexdigest()
    method, key, headers = store.requests[-1]
    assert (method, key) == ("PUT", "out/result.zip")
    assert headers["x-amz-server-side-encryption"] == "aws:kms"
    assert headers["x-amz-server-side-encryption-aws-kms-key-id"] == KMS_KEY
    assert "job-token" in headers["X-Amz-Security-Token"]


def test_an_upload_retried_after_a_lost_response_sends_the_whole_file(disk_s3: tuple[Any, DiskS3]) -> None:
    """The seam rewinds a file body before each attempt: the retry uploads every byte again."""
    from botocore.exceptions import ConnectionClosedError

    client, store = disk_s3
    lost = [True]

    def lose_first(request: Any, **_: Any) -> None:
        if lost and request.method == "PUT":
            lost.clear()
            store(request)  # applied, then the answer is lost
            raise ConnectionClosedError(endpoint_url=request.url)

    client.meta.events.register_first("before-send.s3", lose_first)
    Artifacts(_job(), client=client).write({"a.txt": "a" * 100_000})
    puts = [request for request in store.requests if request[0] == "PUT"]
    assert len(puts) == 2
    with zipfile.ZipFile(store.path("out/result.zip")) as archive:
        assert archive.read("a.txt") == b"a" * 100_000


def test_bad_paths_and_names_are_refused(disk_s3: tuple[Any, DiskS3]) -> None:
    """Absolute paths, ``..`` and unknown artifact names are typed errors; nothing is uploaded."""
    client, store = disk_s3
    artifacts = Artifacts(_job(), client=client)
    with pytest.raises(InvalidArgumentError, match="no output artifact 'Nope'"):
        artifacts.create("Nope")
    for path in ("/etc/passwd", "../up.txt", "a/../../b", ""):
        with pytest.raises(InvalidArgumentError), artifacts.create() as output:
            output.write(path, "x")
    assert store.requests == []


def test_an_input_that_is_not_a_zip_is_a_malformed_input(disk_s3: tuple[Any, DiskS3]) -> None:
    """An input artifact that is not a zip archive raises MalformedInputError naming it."""
    client, store = disk_s3
    store.path("in/source.zip").write_bytes(b"not a zip")
    with pytest.raises(MalformedInputError, match="input artifact Source"):
        Artifacts(_job(), client=client).open()


def test_extract_refuses_members_outside_the_target(disk_s3: tuple[Any, DiskS3], tmp_path: Path) -> None:
    """``extract`` unpacks into the folder and refuses a member that would land outside it."""
    client, store = disk_s3
    with zipfile.ZipFile(store.path("in/source.zip"), "w") as archive:
        archive.writestr("ok/file.txt", "fine")
    with Artifacts(_job(), client=client).open() as source:
        target = source.extract(tmp_path / "out")
    assert (target / "ok" / "file.txt").read_text() == "fine"

    with zipfile.ZipFile(store.path("in/source.zip"), "w") as archive:
        archive.writestr("../escape.txt", "bad")
    with Artifacts(_job(), client=client).open() as source, pytest.raises(MalformedInputError):
        source.extract(tmp_path / "out2")
    assert not (tmp_path / "escape.txt").exists()
