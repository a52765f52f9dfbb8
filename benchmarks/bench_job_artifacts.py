"""Benchmark: the memory a job worker's artifact helpers hold, against reading and writing artifacts whole.

A job worker reads its input artifact (a zip in S3) and writes an output artifact. ``pipepilot.awslambda``'s
``Artifacts`` streams both ways: the download is spooled to a temporary file (in memory up to 8 MiB),
members are decompressed as they are read, the output is zipped into a temporary file and uploaded from
it. The baseline does what most hand-written workers do: ``get_object()["Body"].read()``, ``zipfile`` over
the bytes, the output built in a ``BytesIO`` and uploaded as bytes. Both run against the same S3, served
from disk through botocore's ``before-send`` hook (no network, no moto: the only large buffers are the
code's own), with real boto3 clients through pipepilot's seam. Python's traced peak memory is measured for
an artifact of ``size`` MiB of random bytes (copied from the input to the output).

Target (issue 10): the helpers' peak at most 0.5 x the baseline's and under 16 MiB for a 48 MiB artifact.

Run: ``python benchmarks/bench_job_artifacts.py [size MiB]`` (default 48), or ``--quick`` (4 MiB, to check
that it works; no verdict). Exit status 1 if the target is missed.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.config import Config

from pipepilot._calls import make_client, new_session
from pipepilot.awslambda import Artifacts, Job

MIB = 1024 * 1024
MAX_RATIO = 0.5
MAX_PEAK = 16 * MIB


class _Raw:
    """A file as an HTTP response body."""

    def __init__(self, file: Any) -> None:
        self._file = file

    def read(self, amt: int | None = None) -> bytes:
        data: bytes = self._file.read(-1 if amt is None else amt)
        return data

    def stream(self, **_: Any) -> Any:
        while chunk := self.read(MIB):
            yield chunk

    def close(self) -> None:
        self._file.close()


class DiskS3:
    """GetObject / PutObject answered from a folder, bodies copied in chunks (before-send hook)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        return self.root / key.replace("/", "__")

    def __call__(self, request: Any, **_: Any) -> AWSResponse:
        key = unquote(urlsplit(request.url).path).lstrip("/").split("/", 1)[1]
        if request.method == "PUT":
            with self.path(key).open("wb") as sink:
                body = request.body
                if isinstance(body, (bytes, bytearray)):
                    sink.write(body)
                else:
                    while chunk := body.read(MIB):
                        sink.write(chunk)
            return AWSResponse(request.url, 200, HTTPHeaders.from_dict({"ETag": '"e"'}), _Raw(io.BytesIO()))
        file = self.path(key)
        headers = HTTPHeaders.from_dict({"Content-Length": str(file.stat().st_size)})
        return AWSResponse(request.url, 200, headers, _Raw(file.open("rb")))


def _job() -> Job:
    def artifact(name: str, key: str) -> dict[str, Any]:
        return {
            "name": name,
            "location": {"type": "S3", "s3Location": {"bucketName": "store", "objectKey": key}},
        }

    return Job.from_api(
        {
            "id": "11111111-2222-3333-4444-555555555555",
            "accountId": "123456789012",
            "data": {
                "inputArtifacts": [artifact("Source", "in.zip")],
                "outputArtifacts": [artifact("Result", "out.zip")],
                "artifactCredentials": {"accessKeyId": "A", "secretAccessKey": "S", "sessionToken": "T"},
            },
        }
    )


def _client(store: DiskS3) -> Any:
    client = make_client(
        "s3",
        session=new_session(region_name="us-east-1", credentials=("unused", "unused")),
        config=Config(s3={"addressing_style": "path"}, request_checksum_calculation="when_required"),
        credentials=("A", "S", "T"),
    )
    client.meta.events.register("before-send.s3", store)
    return client


def ours(client: Any) -> None:
    """Read the input member by member and copy it into the output, with the helpers."""
    artifacts = Artifacts(_job(), client=client)
    with artifacts.open() as source, artifacts.create(compression=zipfile.ZIP_STORED) as output:
        for name in source.names():
            with source.open(name) as member, output.open(name) as sink:
                while chunk := member.read(MIB):
                    sink.write(chunk)


def baseline(client: Any) -> None:
    """The same, as hand-written workers do it: whole bodies in memory."""
    body = client.get_object(Bucket="store", Key="in.zip")["Body"].read()
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(body)) as source, zipfile.ZipFile(buffer, "w") as output:
        for name in source.namelist():
            output.writestr(name, source.read(name))
    client.put_object(Bucket="store", Key="out.zip", Body=buffer.getvalue())


def peak(run: Any, client: Any) -> int:
    """Python's traced peak memory (bytes) while ``run(client)`` runs."""
    tracemalloc.start()
    try:
        run(client)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    argv = [arg for arg in argv if arg != "--quick"]
    size = 4 if quick else int(argv[1]) if len(argv) > 1 else 48
    with tempfile.TemporaryDirectory() as folder:
        store = DiskS3(Path(folder))
        payload = Path(folder) / "payload.bin"
        with payload.open("wb") as file:
            for _ in range(size):
                file.write(os.urandom(MIB))
        with zipfile.ZipFile(store.path("in.zip"), "w", compression=zipfile.ZIP_STORED) as archive:
            archive.write(payload, "payload.bin")
        client = _client(store)
        ours(client)  # warm up: the first call builds botocore's handlers and parsers
        helpers, whole = peak(ours, client), peak(baseline, client)
    ratio = helpers / whole
    print(f"artifact of {size} MiB, read and copied into an output artifact")
    print(f"  pipepilot.awslambda.Artifacts: peak {helpers / MIB:6.2f} MiB")
    print(f"  whole bodies in memory:       peak {whole / MIB:6.2f} MiB")
    print(f"  ratio {ratio:.3f} (target <= {MAX_RATIO}; peak target < {MAX_PEAK // MIB} MiB)")
    if quick:
        return 0
    ok = ratio <= MAX_RATIO and helpers < MAX_PEAK
    print("PASS" if ok else "MISS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
