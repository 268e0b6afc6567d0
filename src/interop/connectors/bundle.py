"""Where a bundle comes from (directory, zip, file:// or http(s) URL) and safe access to it.

Sources are untrusted: local paths must lie under a configured root, URLs may not reach
private networks unless allowed, downloads and zips are capped by size, and a zip's members
are read through a counter so a bomb that lies about its sizes stops at the cap.
"""

import hashlib
import io
import lzma
import os
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path, PurePosixPath
from typing import IO, Any
from urllib.parse import unquote, urlparse

import httpx

from interop.network import (
    BodyRefused,
    PrivateAddress,
    UnresolvableHost,
    limited_body,
    shown_url,
    stream_get,
)

# Deflate reaches about 1000:1 on real data only for pathological input.
MAX_COMPRESSION_RATIO = 200
# A download's reads may each wait this long; the whole download, `download_seconds` (the
# worker gives the time its ingestion has left).
READ_SECONDS = 30
DOWNLOAD_SECONDS = 3600.0


class BundleError(Exception):
    """A bundle that cannot be read at all: the ingestion fails with `code`."""

    def __init__(self, code: str, message: str, file: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.file = file


# What tells a file's bytes apart without reading them again.
Identity = tuple[int, int, int, int]


def _identity(status: os.stat_result | None) -> Identity | None:
    """The regular file's (device, inode, size, modification time); None for anything else."""
    if status is None or not stat.S_ISREG(status.st_mode):
        return None
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)


class Bundle:
    """The CSV files of one bundle, from a directory or a zip (top level or one folder)."""

    def __init__(self, stack: ExitStack, root: Path | None, archive: zipfile.ZipFile | None):
        self._stack = stack
        self._root = root
        self._archive = archive
        self._members: dict[str, zipfile.ZipInfo] = {}
        if archive is not None:
            self._members = _csv_members(archive)
        self._set_aside: set[str] = set()
        # Each file of a directory as first looked at (None: there was none). The run reads
        # a file several times (fingerprint, planning, applying): all must read this one.
        self._first_seen: dict[str, Identity | None] = {}

    def set_aside(self, name: str) -> None:
        """Read the bundle as lacking the file from now on, whether or not it holds it."""
        self._set_aside.add(name)

    def has(self, name: str) -> bool:
        if name in self._set_aside:
            return False
        if self._archive is not None:
            return name in self._members
        status = self._status(name)
        identity = _identity(status)
        self._as_first_seen(name, identity)
        return identity is not None

    def fingerprint(self, names: list[str]) -> str:
        """A hash of the named files' bytes: equal fingerprints, equal bundles."""
        digest = hashlib.sha256()
        for name in names:
            if not self.has(name):
                continue
            digest.update(name.encode() + b"\0")
            with self.open_text(name) as handle:
                binary = handle.buffer
                while chunk := binary.read(1 << 20):
                    digest.update(chunk)
        return digest.hexdigest()

    @contextmanager
    def open_text(self, name: str) -> Iterator[io.TextIOWrapper]:
        from interop.connectors.oneroster_csv import text_stream

        if self._archive is not None:
            info = self._members[name]
            binary: Any = io.BufferedReader(
                _CappedReader(_open_member(self._archive, info, name), info.file_size, name)
            )
        else:
            binary = self._open_file(name)
        with text_stream(binary) as handle:
            yield handle
            if self._archive is None:
                # Read to the end, or as far as the reader wanted: rewritten in place
                # meanwhile, what was read may be torn, and the topic's deletions that follow
                # would trust it.
                self._as_first_seen(name, _identity(os.fstat(binary.fileno())))

    def _status(self, name: str) -> os.stat_result | None:
        """The directory's file `name` (where a link leads), None when there is none."""
        assert self._root is not None
        try:
            return os.stat(self._root / name)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise _unreadable(name, exc) from exc

    def _open_file(self, name: str) -> IO[bytes]:
        assert self._root is not None
        try:
            # Not blocking: a FIFO put in the file's place must not hold the run.
            descriptor = os.open(self._root / name, os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:  # gone since `has`, or unreadable (permissions)
            if isinstance(exc, FileNotFoundError):
                self._as_first_seen(name, None)
            raise _unreadable(name, exc) from exc
        try:
            opened = os.fstat(descriptor)
            self._check_inside(name, opened)
            self._as_first_seen(name, _identity(opened))
        except BaseException:
            os.close(descriptor)
            raise
        return os.fdopen(descriptor, "rb")

    def _check_inside(self, name: str, opened: os.stat_result) -> None:
        """Refuse a file outside the bundle's directory, where a link in it leads: the
        location was checked against INTEROP_SOURCE_ROOTS, and a link to anywhere else (a
        system file, another tenant's export under the same root) read that into the tenant.
        The path is resolved after the open and must lead to the very file opened, so a link
        swapped between the two is refused too."""
        assert self._root is not None
        try:
            resolved = Path(os.path.realpath(self._root / name, strict=True))
            found = os.stat(resolved)
        except OSError as exc:
            raise _unreadable(name, exc) from exc
        same = (found.st_dev, found.st_ino) == (opened.st_dev, opened.st_ino)
        if not same or not resolved.is_relative_to(self._root):
            raise BundleError(
                "source_not_allowed",
                f"{name} is a link to a file outside the bundle's directory",
                file=name,
            )

    def _as_first_seen(self, name: str, identity: Identity | None) -> None:
        """Fail the run if the file is not the one first seen: replaced (another inode),
        rewritten (another size or modification time), or appeared or gone. Read again, it
        would not be the bytes the fingerprint hashed nor those the planning pass checked: a
        partial users.csv swapped in before the applying pass deleted every user it lacked,
        and the next run, the full file back, was skipped as unchanged."""
        first = self._first_seen.setdefault(name, identity)
        if first != identity:
            raise BundleError(
                "source_unavailable",
                f"{name} changed during the collection (each file is read more than once, "
                "and all reads must find the same file)",
                file=name,
            )


def _unreadable(name: str, exc: OSError) -> BundleError:
    message = f"{name} cannot be read: {exc.strerror or exc}"
    return BundleError("source_unavailable", message, file=name)


@contextmanager
def open_bundle(
    location: str,
    roots: list[Path],
    max_bytes: int,
    allow_private: bool,
    scratch: Path,
    download_seconds: float = DOWNLOAD_SECONDS,
) -> Iterator[Bundle]:
    """Open the bundle at `location` for reading; any download lives only inside the block
    and must end within `download_seconds`."""
    with ExitStack() as stack:
        path = local_source_path(location, roots) or _download(
            location, allow_private, max_bytes, scratch, stack, download_seconds
        )
        if path.is_dir():
            yield Bundle(stack, path, None)
            return
        if not path.is_file():
            raise BundleError("source_unavailable", f"no file or directory at {location}")
        if path.stat().st_size > max_bytes:
            raise BundleError("bundle_too_large", f"the bundle is larger than {max_bytes} bytes")
        try:
            archive = stack.enter_context(zipfile.ZipFile(path))
        except (zipfile.BadZipFile, OSError) as exc:
            raise BundleError("invalid_bundle", f"not a zip file or directory: {exc}") from exc
        _check_archive(archive, max_bytes, path.stat().st_size)
        yield Bundle(stack, None, archive)


def local_source_path(location: str, roots: list[Path]) -> Path | None:
    """The local path `location` names, if it lies under one of `roots`; None for an
    http(s) URL with a host, whose address is checked when it is fetched. Any other location
    is `source_not_allowed`."""
    try:
        parsed = urlparse(location)
    except ValueError as exc:  # an unbalanced IPv6 bracket, say ("http://[")
        raise BundleError("source_not_allowed", f"{location} is not a location: {exc}") from exc
    if parsed.scheme in ("http", "https"):
        # "http://", "https:" or "http:foo" name no server: no download could ever start.
        if not parsed.hostname:
            raise BundleError("source_not_allowed", f"{location} is not an http(s) URL with a host")
        return None
    if parsed.scheme == "file":
        # file:///path or file://localhost/path; another host's, or no path, names nothing here
        # (an empty path would have resolved to the working directory).
        if parsed.netloc not in ("", "localhost") or not parsed.path:
            raise BundleError("source_not_allowed", f"{location} is not a local file URL")
        path = Path(unquote(parsed.path))
    elif parsed.scheme in ("",) or len(parsed.scheme) == 1:  # a Windows drive letter
        path = Path(location)
    else:
        raise BundleError("source_not_allowed", f"unsupported location scheme {parsed.scheme}")
    try:
        resolved = path.resolve()
    except (OSError, ValueError) as exc:  # a NUL character, a loop of links
        raise BundleError("source_not_allowed", f"{location} is not a path: {exc}") from exc
    if not any(resolved.is_relative_to(root.resolve()) for root in roots):
        raise BundleError(
            "source_not_allowed",
            f"{location} is outside the directories sources may be read from "
            "(INTEROP_SOURCE_ROOTS)",
        )
    return resolved


def _download(
    url: str,
    allow_private: bool,
    max_bytes: int,
    scratch: Path,
    stack: ExitStack,
    seconds: float,
) -> Path:
    scratch.mkdir(parents=True, exist_ok=True)
    # The stack closes (and so deletes) the download when the bundle is done with.
    download = tempfile.NamedTemporaryFile(dir=scratch, suffix=".zip")  # noqa: SIM115
    target: IO[bytes] = stack.enter_context(download)
    shown = shown_url(url)
    try:
        with stream_get(
            url, timeout=READ_SECONDS, seconds=seconds, allow_private=allow_private
        ) as response:
            if response.status_code != 200:
                raise BundleError(
                    "source_unavailable", f"GET {shown} answered {response.status_code}"
                )
            for chunk in limited_body(response, max_bytes):
                target.write(chunk)
    except BodyRefused as exc:
        code = "bundle_too_large" if exc.too_large else "source_unavailable"
        raise BundleError(code, f"GET {shown}: {exc}") from exc
    except PrivateAddress as exc:
        raise BundleError(
            "source_not_allowed", f"{exc} (INTEROP_SOURCE_ALLOW_PRIVATE_NETWORKS)"
        ) from exc
    except UnresolvableHost as exc:
        raise BundleError("source_unavailable", str(exc)) from exc
    except httpx.HTTPError as exc:
        raise BundleError("source_unavailable", f"GET {shown} failed: {exc}") from exc
    target.flush()
    return Path(target.name)


def _csv_members(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """CSV members by file name, at the top level or inside exactly one folder. What macOS's
    Finder adds to a zip it makes (`__MACOSX/._orgs.csv`, resource forks that are not CSV)
    is left out: it made every zip compressed on a Mac 'more than one folder'."""
    members: dict[str, zipfile.ZipInfo] = {}
    folders: set[PurePosixPath] = set()
    repeated: list[str] = []
    for info in archive.infolist():
        path = PurePosixPath(info.filename)
        if info.is_dir() or path.suffix.lower() != ".csv" or len(path.parts) > 2:
            continue
        if path.parts[0] == "__MACOSX" or path.name.startswith("._"):
            continue
        folders.add(path.parent)
        if path.name in members:
            repeated.append(path.name)
        members[path.name] = info
    if len(folders) > 1:
        raise BundleError("invalid_bundle", "the zip holds CSV files in more than one folder")
    if repeated:
        # Which entry was read was the zip's order (the last): refused rather than guessed.
        raise BundleError("invalid_bundle", f"the zip holds {repeated[0]} twice", file=repeated[0])
    return members


def _check_archive(archive: zipfile.ZipFile, max_bytes: int, compressed: int) -> None:
    declared = sum(info.file_size for info in archive.infolist())
    if declared > max_bytes:
        raise BundleError(
            "bundle_too_large", f"the zip expands to {declared} bytes, over {max_bytes}"
        )
    if compressed and declared / compressed > MAX_COMPRESSION_RATIO and declared > 10_000_000:
        raise BundleError("bundle_too_large", "the zip's compression ratio looks like a zip bomb")


# What a zip member that cannot be read raises, opened or read: a local header that is not
# one (BadZipFile), encryption or a compression method zipfile lacks (RuntimeError and its
# NotImplementedError), data that does not decompress (zlib's, LZMA's, bzip2's OSError) or
# ends early (EOFError). The zip file itself is open already: an OSError is its data's.
UNREADABLE_MEMBER = (
    zipfile.BadZipFile,
    RuntimeError,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    OSError,
)


def _open_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> IO[bytes]:
    if info.flag_bits & 0x1:  # zipfile's own message quotes the whole ZipInfo
        raise BundleError("invalid_bundle", f"{name} is encrypted in the zip")
    try:
        return archive.open(info)
    except UNREADABLE_MEMBER as exc:
        raise BundleError("invalid_bundle", f"{name} cannot be read from the zip: {exc}") from exc


class _CappedReader(io.RawIOBase):
    """A zip member that may not expand past the size its header declares."""

    def __init__(self, inner: IO[bytes], limit: int, name: str) -> None:
        self._inner = inner
        self._left = limit
        self._name = name

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self._inner.read(len(buffer))
        except UNREADABLE_MEMBER as exc:
            raise BundleError("invalid_bundle", f"{self._name}: {exc}") from exc
        if len(data) > self._left:
            raise BundleError("bundle_too_large", f"{self._name} expands past its declared size")
        self._left -= len(data)
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._inner.close()
        super().close()
