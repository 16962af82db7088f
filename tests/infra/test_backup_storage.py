"""The backup stores: one contract, run against a local directory and against an S3 server (moto, on 127.0.0.1)."""

from __future__ import annotations

import hashlib
import os
import stat
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import override_settings

from infra.backups.storage import (
    BackupNotFound,
    BackupStorage,
    BackupStorageError,
    LocalStorage,
    S3Storage,
    backup_storage,
)
from tests.infra.conftest import S3_ACCESS_KEY_ID, S3_REGION, S3_SECRET_ACCESS_KEY, s3_client

NAME = "acme-5f0c6a1e/2026/12/01/2b8f6d0e.dump"
MB = 1 << 20


def make_s3(endpoint: str, bucket: str, prefix: str = "kontor-backups") -> S3Storage:
    return S3Storage(
        bucket=bucket,
        prefix=prefix,
        endpoint_url=endpoint,
        region=S3_REGION,
        access_key_id=S3_ACCESS_KEY_ID,
        secret_access_key=S3_SECRET_ACCESS_KEY,
    )


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BackupStorage:
    if request.param == "local":
        return LocalStorage(tmp_path / "backups")
    return make_s3(request.getfixturevalue("s3_endpoint"), request.getfixturevalue("s3_bucket"))


def leftovers(store: BackupStorage) -> list[str]:
    """Whatever a failed write could have left behind: temporary files, pending multipart uploads."""
    if isinstance(store, LocalStorage):
        if not store.root.exists():
            return []
        return sorted(str(path.relative_to(store.root)) for path in store.root.rglob("*") if path.is_file())
    assert isinstance(store, S3Storage)
    uploads = store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", [])
    objects = store.client.list_objects_v2(Bucket=store.bucket).get("Contents", [])
    return sorted([f"upload:{upload['Key']}" for upload in uploads] + [item["Key"] for item in objects])


def pseudo_random(size: int, *, piece: int = MB) -> Iterator[bytes]:
    """`size` bytes in pieces, made as they are asked for."""
    counter = 0
    while size > 0:
        block = hashlib.sha256(counter.to_bytes(8, "big")).digest() * (piece // 32 + 1)
        yield block[: min(piece, size)]
        size -= piece
        counter += 1


def digest_of(pieces: Iterator[bytes]) -> str:
    digest = hashlib.sha256()
    for piece in pieces:
        digest.update(piece)
    return digest.hexdigest()


class Boom(Exception):
    pass


def failing_after(pieces: Iterator[bytes], count: int) -> Iterator[bytes]:
    for index, piece in enumerate(pieces):
        if index == count:
            raise Boom("the dump failed half-way")
        yield piece


# --- the contract -----------------------------------------------------------------------------------------------


def test_round_trip(store: BackupStorage) -> None:
    written = store.write(NAME, [b"first ", b"", b"second", b" third"])
    assert written == len(b"first second third")
    assert store.exists(NAME)
    assert store.size(NAME) == written
    assert store.read_bytes(NAME) == b"first second third"
    stream = store.open(NAME)
    try:
        assert stream.read(6) == b"first "
        assert stream.read() == b"second third"
    finally:
        stream.close()


def test_write_bytes_and_an_empty_object(store: BackupStorage) -> None:
    store.write_bytes("acme/manifest.json", '{"rows": 1, "name": "Société"}'.encode())
    assert store.read_bytes("acme/manifest.json") == '{"rows": 1, "name": "Société"}'.encode()
    assert store.write("acme/empty", []) == 0
    assert store.exists("acme/empty")
    assert store.size("acme/empty") == 0
    assert store.read_bytes("acme/empty") == b""


def test_a_new_write_replaces_the_old_content(store: BackupStorage) -> None:
    store.write_bytes(NAME, b"old content, longer than the new")
    store.write_bytes(NAME, b"new")
    assert store.read_bytes(NAME) == b"new"
    assert store.list("") == [NAME]


def test_a_large_object_streams_in_parts(store: BackupStorage) -> None:
    size = 20 * MB + 12345  # several parts of 8 MB
    assert store.write(NAME, pseudo_random(size)) == size
    assert store.size(NAME) == size
    stream = store.open(NAME)
    try:
        assert digest_of(iter(lambda: stream.read(MB), b"")) == digest_of(pseudo_random(size))
    finally:
        stream.close()
    if isinstance(store, S3Storage):
        head = store.client.head_object(Bucket=store.bucket, Key=f"kontor-backups/{NAME}")
        assert head["ETag"].strip('"').endswith("-3")  # a multipart upload's ETag counts its parts


@pytest.mark.parametrize("fail_at", [0, 1, 12])
def test_a_failing_iterator_leaves_nothing(store: BackupStorage, fail_at: int) -> None:
    """The producer (pg_dump, the encryption) fails: its own exception comes out, nothing is stored, not even in
    part (12 pieces of 1 MB: past the first 8 MB part of a multipart upload)."""
    with pytest.raises(Boom, match="the dump failed half-way"):
        store.write(NAME, failing_after(pseudo_random(30 * MB), fail_at))
    assert not store.exists(NAME)
    assert leftovers(store) == []
    assert store.list("") == []


def test_a_failing_iterator_keeps_the_previous_content(store: BackupStorage) -> None:
    store.write_bytes(NAME, b"the good backup")
    with pytest.raises(Boom):
        store.write(NAME, failing_after(pseudo_random(10 * MB), 9))
    assert store.read_bytes(NAME) == b"the good backup"
    assert leftovers(store) == ([NAME] if isinstance(store, LocalStorage) else [f"kontor-backups/{NAME}"])


def test_a_failing_generator_is_closed(store: BackupStorage) -> None:
    """A producer left half-way by a storage failure gets to clean up (its `finally` runs at once)."""
    closed = []

    def producer() -> Iterator[bytes]:
        try:
            yield b"x"
            raise Boom("failed")
        finally:
            closed.append(True)

    with pytest.raises(Boom):
        store.write(NAME, producer())
    assert closed == [True]


def test_missing_objects(store: BackupStorage) -> None:
    assert not store.exists(NAME)
    with pytest.raises(BackupNotFound, match="no backup file"):
        store.open(NAME)
    with pytest.raises(BackupNotFound):
        store.read_bytes(NAME)
    with pytest.raises(BackupNotFound):
        store.size(NAME)
    store.delete(NAME)  # missing is fine
    assert issubclass(BackupNotFound, BackupStorageError)


def test_list_and_delete(store: BackupStorage) -> None:
    names = [
        "acme-1/2026/11/30/b1.dump",
        "acme-1/2026/11/30/b1.files",
        "acme-1/2026/11/30/b1.manifest.json",
        "acme-1/2026/12/01/b2.dump",
        "acme-10/2026/12/01/b3.dump",
        "globex-2/2026/12/01/b4.dump",
    ]
    for name in reversed(names):
        store.write_bytes(name, name.encode())
    assert store.list("") == names
    assert store.list("acme-1/") == names[:4]
    assert store.list("acme-1") == names[:5]  # a prefix of names, like S3's
    assert store.list("acme-1/2026/11/30/b1.") == names[:3]
    assert store.list("acme-1/2026/11/30/b1.dump") == names[:1]
    assert store.list("nobody/") == []
    assert store.list("acme-1/2027/") == []
    store.delete("acme-1/2026/11/30/b1.files")
    assert not store.exists("acme-1/2026/11/30/b1.files")
    assert store.list("acme-1/2026/11/30/") == ["acme-1/2026/11/30/b1.dump", "acme-1/2026/11/30/b1.manifest.json"]
    for name in names:
        store.delete(name)
    assert store.list("") == []


@pytest.mark.parametrize(
    "name",
    [
        "",
        "/etc/passwd",
        "../outside",
        "acme/../../outside",
        "acme/./x",
        "acme//x",
        "acme/",
        "acme\\x",
        "acme/x\0.dump",
        "acme/x\n.dump",
        "acme/.hidden",
        "a" * 1000,
    ],
)
def test_bad_names_are_refused(store: BackupStorage, name: str) -> None:
    with pytest.raises(BackupStorageError, match="not a valid backup name"):
        store.write_bytes(name, b"x")
    for call in (store.open, store.read_bytes, store.exists, store.size, store.delete):
        with pytest.raises(BackupStorageError, match="not a valid backup name"):
            call(name)
    assert leftovers(store) == []


@pytest.mark.parametrize("prefix", ["/abs", "../up", "a/../b", "a\\b", "a\0b"])
def test_bad_prefixes_are_refused(store: BackupStorage, prefix: str) -> None:
    with pytest.raises(BackupStorageError, match="not a valid backup name"):
        store.list(prefix)


# --- local ------------------------------------------------------------------------------------------------------


def test_local_files_are_private(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "backups")
    store.write_bytes(NAME, b"secret")
    path = tmp_path / "backups" / NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for directory in [tmp_path / "backups", *list(path.parents)[: NAME.count("/")]]:
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    assert store.describe() == str(tmp_path / "backups")


def test_local_delete_removes_emptied_directories(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "backups")
    store.write_bytes("acme/2026/11/30/a.dump", b"a")
    store.write_bytes("acme/2026/12/01/b.dump", b"b")
    store.delete("acme/2026/11/30/a.dump")
    assert not (tmp_path / "backups" / "acme" / "2026" / "11").exists()
    assert (tmp_path / "backups" / "acme" / "2026" / "12" / "01" / "b.dump").exists()
    store.delete("acme/2026/12/01/b.dump")
    assert list((tmp_path / "backups").iterdir()) == []
    store.write_bytes("acme/2026/12/02/c.dump", b"c")
    assert store.read_bytes("acme/2026/12/02/c.dump") == b"c"


def test_local_write_failure_of_the_disk_is_a_storage_error(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "backups")
    store.write_bytes("acme/a", b"a")
    (tmp_path / "backups" / "acme" / "a").rename(tmp_path / "a")
    (tmp_path / "backups" / "acme").rmdir()
    (tmp_path / "backups" / "acme").write_bytes(b"a file where a directory should be")
    with pytest.raises(BackupStorageError, match="could not write acme/b"):
        store.write_bytes("acme/b", b"b")


def test_local_temporary_files_are_not_listed(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "backups")
    seen = []

    def producer() -> Iterator[bytes]:
        yield b"part"
        seen.extend(os.listdir(tmp_path / "backups" / "acme"))
        assert store.list("") == []
        assert not store.exists("acme/x.dump")
        yield b" two"

    store.write("acme/x.dump", producer())
    assert len(seen) == 1 and seen[0].startswith(".x.dump.") and seen[0].endswith(".partial")
    assert store.list("") == ["acme/x.dump"]


# --- S3 ---------------------------------------------------------------------------------------------------------


def test_s3_keys_are_under_the_prefix(s3_endpoint: str, s3_bucket: str) -> None:
    store = make_s3(s3_endpoint, s3_bucket, prefix="/kontor/backups/")
    store.write_bytes(NAME, b"x")
    keys = [item["Key"] for item in s3_client(s3_endpoint).list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert keys == [f"kontor/backups/{NAME}"]
    assert store.list("") == [NAME]
    assert store.describe() == f"s3://{s3_bucket}/kontor/backups"
    bare = make_s3(s3_endpoint, s3_bucket, prefix="")
    assert bare.list("") == [f"kontor/backups/{NAME}"]
    assert bare.describe() == f"s3://{s3_bucket}"


def test_s3_memory_does_not_grow_with_the_object(s3_endpoint_in_another_process: str) -> None:
    endpoint = s3_endpoint_in_another_process
    s3_client(endpoint).create_bucket(Bucket="memory")
    store = make_s3(endpoint, "memory")
    size = 64 * MB
    tracemalloc.start()
    try:
        assert store.write(NAME, pseudo_random(size)) == size
        _current, write_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # One 8 MB part in memory at a time (and its copies on the way to the socket), not the object.
    assert write_peak < 24 * MB, f"peak {write_peak / MB:.1f} MB to write a 64 MB object"
    tracemalloc.start()
    try:
        stream = store.open(NAME)
        total = 0
        try:
            while piece := stream.read(MB):
                total += len(piece)
        finally:
            stream.close()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == size
    assert peak < 8 * MB, f"peak {peak / MB:.1f} MB to read a 64 MB object"


def test_s3_unreachable_is_a_storage_error(s3_bucket: str) -> None:
    with socket_closed_port() as port:
        store = make_s3(f"http://127.0.0.1:{port}", s3_bucket)
        with pytest.raises(BackupStorageError, match="could not write"):
            store.write_bytes(NAME, b"x")


def test_s3_unreachable_reads_are_storage_errors(s3_bucket: str) -> None:
    with socket_closed_port() as port:
        store = make_s3(f"http://127.0.0.1:{port}", s3_bucket)
        for call in (store.open, store.read_bytes, store.exists, store.size, store.delete, store.list):
            with pytest.raises(BackupStorageError, match="could not read") as caught:
                call(NAME)
            assert not isinstance(caught.value, BackupNotFound)


def test_s3_a_missing_bucket_is_a_storage_error(s3_endpoint: str) -> None:
    store = make_s3(s3_endpoint, "no-such-bucket-here")
    with pytest.raises(BackupStorageError, match="could not write"):
        store.write_bytes(NAME, b"x")
    with pytest.raises(BackupStorageError, match="could not read"):
        store.list("")


class socket_closed_port:
    """A local port nothing listens on."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return int(self.sock.getsockname()[1])

    def __exit__(self, *args: object) -> None:
        self.sock.close()


# --- the configured store ---------------------------------------------------------------------------------------


def test_backup_storage_is_the_directory_by_default(tmp_path: Path) -> None:
    with override_settings(BACKUP_S3_BUCKET="", BACKUP_DIR=tmp_path / "here"):
        store = backup_storage()
    assert isinstance(store, LocalStorage)
    assert store.describe() == str(tmp_path / "here")


def test_backup_storage_is_s3_when_a_bucket_is_set(s3_endpoint: str, s3_bucket: str) -> None:
    with override_settings(
        BACKUP_S3_BUCKET=s3_bucket,
        BACKUP_S3_PREFIX="fleet",
        BACKUP_S3_ENDPOINT_URL=s3_endpoint,
        BACKUP_S3_REGION=S3_REGION,
        BACKUP_S3_ACCESS_KEY_ID=S3_ACCESS_KEY_ID,
        BACKUP_S3_SECRET_ACCESS_KEY=S3_SECRET_ACCESS_KEY,
    ):
        store = backup_storage()
    assert isinstance(store, S3Storage)
    assert store.describe() == f"s3://{s3_bucket}/fleet"
    store.write_bytes(NAME, b"through the settings")
    assert s3_client(s3_endpoint).get_object(Bucket=s3_bucket, Key=f"fleet/{NAME}")["Body"].read() == (
        b"through the settings"
    )
