"""Where backup artifacts live: a local directory (the default) or an S3-compatible bucket (BACKUP_S3_BUCKET).

Names are relative paths with "/" ("acme-<uid>/2026/12/01/<backup-id>.dump"). Both stores write atomically: a
name holds either its complete new content or what it held before, never a part, whatever fails (the disk, the
network, or the iterator that produces the content). Reads and writes stream: memory does not grow with the
size of an artifact.
"""

from __future__ import annotations

import abc
import contextlib
import os
import tempfile
import threading
import typing
from collections.abc import Iterable, Iterator
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext as _

__all__ = ["BackupNotFound", "BackupStorage", "BackupStorageError", "LocalStorage", "S3Storage", "backup_storage"]

MAX_NAME_BYTES = 900  # S3 keys stop at 1024 bytes, with the prefix


class BackupStorageError(Exception):
    """The store cannot do what was asked; str() is a message for an operator."""


class BackupNotFound(BackupStorageError):
    pass


def _check_name(name: str, *, prefix: bool = False) -> str:
    """`name` if it is a safe relative name; a prefix may also be empty or end with "/"."""
    if not isinstance(name, str):
        raise BackupStorageError(f"a backup name must be a string, not {type(name).__name__}")
    if prefix and name == "":
        return name
    body = name[:-1] if prefix and name.endswith("/") else name
    if (
        not body
        or body.startswith("/")
        or "\\" in body
        or any(ord(char) < 0x20 or ord(char) == 0x7F for char in body)
        or len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES
    ):
        raise BackupStorageError(f"not a valid backup name: {name!r}")
    # Empty, "." and ".." parts would mean different things on a disk and in S3; names starting with a dot are the
    # local store's temporary files.
    if any(not part or part.startswith(".") for part in body.split("/")):
        raise BackupStorageError(f"not a valid backup name: {name!r}")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise BackupStorageError(f"not a valid backup name: {name!r}") from None
    return name


def _not_found(name: str, where: str) -> BackupNotFound:
    return BackupNotFound(_("no backup file %(name)s in %(where)s") % {"name": name, "where": where})


def _access_failed(name: str, where: str, error: BaseException) -> BackupStorageError:
    return BackupStorageError(
        _("could not read %(name)s in %(where)s: %(error)s") % {"name": name, "where": where, "error": error}
    )


def _write_failed(name: str, where: str, error: BaseException) -> BackupStorageError:
    return BackupStorageError(
        _("could not write %(name)s to %(where)s: %(error)s") % {"name": name, "where": where, "error": error}
    )


def _close_iterator(chunks: Iterator[bytes]) -> None:
    # A generator left half-way runs its `finally` (closes its pipe, its process) now rather than at collection.
    close = getattr(chunks, "close", None)
    if callable(close):
        with contextlib.suppress(Exception):
            close()


class BackupStorage(abc.ABC):
    @abc.abstractmethod
    def write(self, name: str, chunks: Iterable[bytes]) -> int:
        """Streams `chunks` into `name` and returns the bytes written. Atomic: if anything fails, including the
        iterator (whose exception propagates unchanged), `name` is left as it was and nothing else remains."""

    @abc.abstractmethod
    def open(self, name: str) -> typing.BinaryIO:
        """A readable stream of `name` (read(n)); BackupNotFound if missing. The caller closes it."""

    def write_bytes(self, name: str, data: bytes) -> None:
        self.write(name, [data])

    def read_bytes(self, name: str) -> bytes:
        with contextlib.closing(self.open(name)) as stream:
            return stream.read()

    @abc.abstractmethod
    def exists(self, name: str) -> bool: ...

    @abc.abstractmethod
    def size(self, name: str) -> int:
        """Bytes stored under `name`; BackupNotFound if missing."""

    @abc.abstractmethod
    def delete(self, name: str) -> None:
        """Removes `name`; a missing name is fine."""

    @abc.abstractmethod
    def list(self, prefix: str) -> list[str]:
        """The names that start with `prefix` ("" for all; "acme-x/" for a directory), sorted."""

    @abc.abstractmethod
    def describe(self) -> str:
        """Where the artifacts are, for messages: "/path/to/dir" or "s3://bucket/prefix"."""


# --- a local directory ------------------------------------------------------------------------------------------


class LocalStorage(BackupStorage):
    """Files under `root`: directories created 0700, files 0600 (only the operating system user reads them)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).absolute()

    def describe(self) -> str:
        return str(self.root)

    def _path(self, name: str) -> Path:
        return self.root.joinpath(*_check_name(name).split("/"))

    def _make_dirs(self, directory: Path) -> None:
        missing = []
        while not directory.is_dir():
            missing.append(directory)
            if directory == directory.parent:
                break
            directory = directory.parent
        for path in reversed(missing):
            with contextlib.suppress(FileExistsError):
                path.mkdir(mode=0o700)

    def write(self, name: str, chunks: Iterable[bytes]) -> int:
        path = self._path(name)
        iterator = iter(chunks)
        try:
            fd, temp = self._temp_file(path)
        except OSError as error:
            _close_iterator(iterator)
            raise _write_failed(name, self.describe(), error) from error
        written = 0
        try:
            with os.fdopen(fd, "wb") as file:
                for chunk in iterator:  # the iterator's own exceptions propagate as they are
                    try:
                        file.write(chunk)
                    except OSError as error:
                        raise _write_failed(name, self.describe(), error) from error
                    written += len(chunk)
                try:
                    file.flush()
                    os.fsync(file.fileno())
                except OSError as error:
                    raise _write_failed(name, self.describe(), error) from error
            try:
                os.replace(temp, path)
                self._sync_dir(path.parent)
            except OSError as error:
                raise _write_failed(name, self.describe(), error) from error
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            _close_iterator(iterator)
            raise
        return written

    def _temp_file(self, path: Path) -> tuple[int, str]:
        # A delete() of the directory's last file may remove the directory in between: make it again.
        for attempt in range(3):
            self._make_dirs(path.parent)
            try:
                return tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
            except FileNotFoundError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    @staticmethod
    def _sync_dir(directory: Path) -> None:
        # The rename itself survives a power cut only once its directory is synced.
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def open(self, name: str) -> typing.BinaryIO:
        path = self._path(name)
        try:
            return path.open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise _not_found(name, self.describe()) from None
        except OSError as error:
            raise _access_failed(name, self.describe(), error) from error

    def exists(self, name: str) -> bool:
        return self._path(name).is_file()

    def size(self, name: str) -> int:
        path = self._path(name)
        try:
            if path.is_file():
                return path.stat().st_size
        except OSError as error:
            raise _access_failed(name, self.describe(), error) from error
        raise _not_found(name, self.describe())

    def delete(self, name: str) -> None:
        path = self._path(name)
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError):
            pass
        except OSError as error:
            raise BackupStorageError(
                _("could not delete %(name)s in %(where)s: %(error)s")
                % {"name": name, "where": self.describe(), "error": error}
            ) from error
        # Directories left empty (the days the retention emptied) go too, up to the root.
        directory = path.parent
        while directory != self.root and self.root in directory.parents:
            try:
                directory.rmdir()
            except OSError:
                break
            directory = directory.parent

    def list(self, prefix: str) -> list[str]:
        _check_name(prefix, prefix=True)
        # Walk only the directory the prefix points into; the rest of its last part is a name prefix.
        directory = prefix.rpartition("/")[0]
        start = self.root.joinpath(*directory.split("/")) if directory else self.root
        names: list[str] = []
        for current, dirs, files in os.walk(start):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            relative = Path(current).relative_to(self.root).as_posix()
            base = "" if relative == "." else relative + "/"
            names.extend(base + file for file in files if not file.startswith(".") and (base + file).startswith(prefix))
        return sorted(names)


# --- an S3-compatible bucket ------------------------------------------------------------------------------------


class _IteratorReader:
    """A file-like view of an iterator of bytes for boto3's upload_fileobj; remembers the iterator's error.

    read(n) returns exactly n bytes until the end: s3transfer takes a short read for the end of the stream (it
    would store a truncated object)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._iterator = iter(chunks)
        self._buffer = b""
        self._offset = 0
        self._done = False
        self.written = 0
        self.error: BaseException | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def _next(self) -> bool:
        try:
            chunk = next(self._iterator)
        except StopIteration:
            self._done = True
            return False
        except BaseException as error:
            self.error = error
            raise
        self._buffer, self._offset = bytes(chunk), 0
        self.written += len(self._buffer)
        return True

    def read(self, size: int | None = -1) -> bytes:
        parts = []
        wanted = -1 if size is None or size < 0 else size
        while wanted != 0 and not self._done:
            if self._offset >= len(self._buffer):
                if not self._next():
                    break
                continue
            take = len(self._buffer) - self._offset if wanted < 0 else min(wanted, len(self._buffer) - self._offset)
            parts.append(self._buffer[self._offset : self._offset + take])
            self._offset += take
            if wanted > 0:
                wanted -= take
        return b"".join(parts)

    def close_iterator(self) -> None:
        _close_iterator(self._iterator)


_session_lock = threading.Lock()
_session: typing.Any = None


def _s3_client(**options: typing.Any) -> typing.Any:
    """A client from one boto3 session for the process: clients then share the parsed service models (a new
    session reads them again, most of a second). Sessions are not thread-safe, hence the lock."""
    global _session
    import boto3

    with _session_lock:
        if _session is None:
            _session = boto3.session.Session()
        return _session.client("s3", **options)


class S3Storage(BackupStorage):
    """Objects under `prefix` in `bucket`. Uploads are single PUTs up to 8 MB and multipart uploads above (parts of
    `part_size`, so at most 10 000 x part_size per object), run in the calling thread and aborted on failure; an
    object becomes visible only when complete."""

    part_size = 8 << 20

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str,
        endpoint_url: str | None = None,
        region: str,
        access_key_id: str | None,
        secret_access_key: str | None,
    ) -> None:
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        if self.prefix:
            _check_name(self.prefix)
        options: dict[str, typing.Any] = {"retries": {"mode": "standard"}}
        if endpoint_url:
            # S3-compatible stores (MinIO, Ceph...) rarely serve virtual-host buckets or the newest checksums.
            options["s3"] = {"addressing_style": "path"}
            options["request_checksum_calculation"] = "when_required"
            options["response_checksum_validation"] = "when_required"
        self.client = _s3_client(
            endpoint_url=endpoint_url or None,
            region_name=region or None,
            # None: boto3's own chain (environment, instance role) finds the credentials.
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None,
            config=Config(**options),
        )

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def _key(self, name: str, *, prefix: bool = False) -> str:
        _check_name(name, prefix=prefix)
        return f"{self.prefix}/{name}" if self.prefix else name

    @staticmethod
    def _missing(error: BaseException) -> bool:
        from botocore.exceptions import ClientError

        if not isinstance(error, ClientError):
            return False
        # A HEAD has no body, so only its status tells; a missing bucket (NoSuchBucket) is a configuration error.
        return str(error.response.get("Error", {}).get("Code", "")) in {"NoSuchKey", "404", "NotFound"}

    def write(self, name: str, chunks: Iterable[bytes]) -> int:
        from boto3.s3.transfer import TransferConfig

        key = self._key(name)
        reader = _IteratorReader(chunks)
        config = TransferConfig(
            multipart_threshold=self.part_size,
            multipart_chunksize=self.part_size,
            # In the calling thread: one part in memory at a time, and the iterator (which may read a pipe, or use
            # thread-bound state) is never run by another thread.
            use_threads=False,
        )
        try:
            # s3transfer aborts a multipart upload that failed; a single PUT leaves nothing when it fails.
            self.client.upload_fileobj(reader, self.bucket, key, Config=config)
        except BaseException as error:
            reader.close_iterator()
            if reader.error is not None:
                raise reader.error from None
            if isinstance(error, Exception):
                raise _write_failed(name, self.describe(), error) from error
            raise
        return reader.written

    @contextlib.contextmanager
    def _errors(self, name: str) -> Iterator[None]:
        """botocore's errors as ours: BackupNotFound for a missing object, BackupStorageError for the rest."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except (BotoCoreError, ClientError) as error:
            if self._missing(error):
                raise _not_found(name, self.describe()) from None
            raise _access_failed(name, self.describe(), error) from error

    def open(self, name: str) -> typing.BinaryIO:
        key = self._key(name)
        with self._errors(name):
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        # botocore's StreamingBody: read(n) pulls from the connection, nothing is buffered ahead.
        return typing.cast(typing.BinaryIO, response["Body"])

    def exists(self, name: str) -> bool:
        try:
            self.size(name)
        except BackupNotFound:
            return False
        return True

    def size(self, name: str) -> int:
        key = self._key(name)
        with self._errors(name):
            response = self.client.head_object(Bucket=self.bucket, Key=key)
        return int(response["ContentLength"])

    def delete(self, name: str) -> None:
        key = self._key(name)
        with contextlib.suppress(BackupNotFound), self._errors(name):
            self.client.delete_object(Bucket=self.bucket, Key=key)

    def list(self, prefix: str) -> list[str]:
        key = self._key(prefix, prefix=True)
        root = f"{self.prefix}/" if self.prefix else ""
        names: list[str] = []
        with self._errors(prefix):
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=key):
                names.extend(item["Key"][len(root) :] for item in page.get("Contents", []))
        return sorted(names)


def backup_storage() -> BackupStorage:
    """The configured store: the S3 bucket when BACKUP_S3_BUCKET is set, else the directory BACKUP_DIR."""
    if settings.BACKUP_S3_BUCKET:
        return S3Storage(
            bucket=settings.BACKUP_S3_BUCKET,
            prefix=settings.BACKUP_S3_PREFIX,
            endpoint_url=settings.BACKUP_S3_ENDPOINT_URL or None,
            region=settings.BACKUP_S3_REGION,
            access_key_id=settings.BACKUP_S3_ACCESS_KEY_ID or None,
            secret_access_key=settings.BACKUP_S3_SECRET_ACCESS_KEY or None,
        )
    return LocalStorage(Path(settings.BACKUP_DIR))
