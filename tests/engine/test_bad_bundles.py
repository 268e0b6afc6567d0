"""Bundles that cannot be read fail the ingestion with a clear code and write nothing."""

import contextlib
import gzip
import http.server
import io
import os
import shutil
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from factories import (
    ONEROSTER_MINIMAL,
    ingestion,
    install_connector,
    listed,
    new_collecting_tenant,
    new_tenant,
    queue_collection,
    run_worker,
)
from interop.connectors.bundle import Bundle, BundleError, open_bundle
from interop.engine import collection
from interop.engine.collection import Collection
from local_http import serving_http


def run(
    server, api, location: Path | str, schools: list[str] | None = None, **settings
) -> tuple[dict, object]:
    """Collect `location` for a new tenant (scoped to `schools`, when given); (the ingestion,
    the tenant's actor)."""
    _, actor = new_collecting_tenant(server, api, location)
    if schools:
        scoping = api.post(
            "/v2/interop/tenant/scoping/schools",
            json={"data": [{"school_ref_id": school} for school in schools]},
            headers=actor.headers,
        )
        assert scoping.status_code == 200, scoping.text
    ingestion_id = queue_collection(api, actor)
    run_worker(server, **settings)
    return ingestion(api, actor, ingestion_id), actor


def user_count(api, actor) -> int:
    return len(api.get("/v2/interop/data/users", headers=actor.headers).json()["data"])


def zipped(source: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(source.iterdir()):
            archive.write(file, file.name)
    return target


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    target = tmp_path / "bundle"
    shutil.copytree(ONEROSTER_MINIMAL, target)
    return target


def assert_failed(result: dict, code: str) -> None:
    assert result["state"] == "failed", result
    assert result["error"]["code"] == code, result["error"]
    assert result["stats"]["created"] == 0


def test_missing_manifest_fails(server, api, bundle):
    (bundle / "manifest.csv").unlink()
    result, actor = run(server, api, bundle)
    assert_failed(result, "manifest_missing")
    assert user_count(api, actor) == 0


def test_a_bulk_file_the_manifest_lists_must_exist(server, api, bundle):
    (bundle / "classes.csv").unlink()
    result, _ = run(server, api, bundle)
    assert_failed(result, "file_missing")
    assert "classes.csv" in result["error"]["message"]


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("delta", "users.csv is a delta file; only bulk bundles are read"),
        ("Delta", "users.csv is a delta file; only bulk bundles are read"),
        (
            "incremental",
            "manifest.csv gives file.users as 'incremental'; a file is bulk, delta or absent",
        ),
    ],
)
def test_a_file_mode_other_than_bulk_or_absent_fails_before_anything_is_written(
    server, api, bundle, mode, message
):
    """Modes are read in any case, and no other is guessed to be bulk: a delta file read as
    bulk would delete every record it does not list (`Delta` was read so)."""
    manifest = (bundle / "manifest.csv").read_text()
    (bundle / "manifest.csv").write_text(manifest.replace("file.users,bulk", f"file.users,{mode}"))
    result, actor = run(server, api, bundle)
    assert_failed(result, "unsupported_mode")
    assert result["error"]["message"] == message
    assert user_count(api, actor) == 0


def test_a_bulk_file_is_bulk_in_any_case(server, api, bundle):
    manifest = (bundle / "manifest.csv").read_text()
    (bundle / "manifest.csv").write_text(manifest.replace("file.users,bulk", "file.users,BULK"))
    (bundle / "users.csv").unlink()
    result, _ = run(server, api, bundle)
    assert_failed(result, "file_missing")


def test_a_header_without_a_required_column_fails(server, api, bundle):
    text = (bundle / "enrollments.csv").read_text().replace("userSourcedId", "personId", 1)
    (bundle / "enrollments.csv").write_text(text)
    result, _ = run(server, api, bundle)
    assert_failed(result, "invalid_header")
    assert "enrollments.csv" in result["error"]["message"]
    assert "userSourcedId" in result["error"]["message"]


@pytest.mark.parametrize(
    ("file", "damage", "code"),
    [
        ("enrollments.csv", b'\nenr9,"broken,quote\n', "invalid_csv"),
        ("demographics.csv", b'\nstu9,"broken,quote\n', "invalid_csv"),
        ("enrollments.csv", b"\nenr9,cls1,sch1,stu1,student,caf\xe9\n", "invalid_encoding"),
        ("demographics.csv", b"\nstu9,caf\xe9\n", "invalid_encoding"),
    ],
)
@pytest.mark.parametrize("scoped", [False, True], ids=["everything", "scoped"])
def test_a_file_the_index_needs_nothing_from_is_still_read_whole_before_anything_is_written(
    server, api, bundle, file, damage, code, scoped
):
    """The planning pass does not parse demographics (nothing in them changes what it
    learns), nor enrollments for a tenant receiving everything (a scoped one learns from
    them who is enrolled in scope), but still reads them whole: a file that cannot be read
    fails the run before the first write."""
    with (bundle / file).open("ab") as target:
        target.write(damage)
    result, actor = run(server, api, bundle, schools=["sch1"] if scoped else None)
    assert_failed(result, code)
    assert file in result["error"]["message"]
    assert user_count(api, actor) == 0
    assert result["stats"]["created"] == 0


def test_broken_quoting_fails_and_leaves_the_repository_as_it_was(server, api, bundle):
    _, actor = new_collecting_tenant(server, api, bundle)
    queue_collection(api, actor)
    run_worker(server)
    assert user_count(api, actor) == 8
    with (bundle / "users.csv").open("a") as users:
        users.write('\nstu9,sch1,student,"broken,quote\n')
    (bundle / "orgs.csv").write_text((bundle / "orgs.csv").read_text().replace("sch2,", "sch2b,"))
    second = queue_collection(api, actor)
    run_worker(server)
    result = ingestion(api, actor, second)
    assert_failed(result, "invalid_csv")
    assert "users.csv" in result["error"]["message"]
    orgs = api.get("/v2/interop/data/orgs", headers=actor.headers).json()["data"]
    assert {org["sourced_id"] for org in orgs} == {"lea1", "sch1", "sch2"}


def test_a_file_gone_before_it_is_opened_fails_as_source_unavailable(
    server, api, bundle, monkeypatch
):
    # An exporter's clean-up between `has` and the open: the FileNotFoundError (as would a
    # PermissionError) failed the run as internal_error, with a traceback logged.
    open_text = Bundle.open_text

    def gone_first(self: Bundle, name: str):  # type: ignore[no-untyped-def]
        if name == "users.csv":
            (bundle / name).unlink(missing_ok=True)
        return open_text(self, name)

    monkeypatch.setattr(Bundle, "open_text", gone_first)
    result, actor = run(server, api, bundle)
    assert_failed(result, "source_unavailable")
    assert "users.csv" in result["error"]["message"]
    assert user_count(api, actor) == 0


def before_applying(monkeypatch, action) -> None:  # type: ignore[no-untyped-def]
    """Run `action` once the planning pass is done, as the applying pass starts."""
    apply = Collection.apply

    def after_action(self: Collection, bundle: Bundle):  # type: ignore[no-untyped-def]
        action()
        return apply(self, bundle)

    monkeypatch.setattr(Collection, "apply", after_action)


def assert_users_changed_and_nothing_deleted(result: dict) -> None:
    assert_failed(result, "source_unavailable")
    assert "users.csv changed during the collection" in result["error"]["message"]
    assert result["stats"]["deleted"] == 0


def test_a_file_replaced_between_the_passes_fails_the_run_and_deletes_nothing(
    server, api, bundle, monkeypatch
):
    # An exporter replacing users.csv (os.replace) while a run read it: the applying pass
    # read a partial file and deleted every user it lacked, while the run's fingerprint was
    # the full file's; the next run, the full file back, was skipped as unchanged.
    _, actor = new_collecting_tenant(server, api, bundle)
    queue_collection(api, actor)
    run_worker(server)
    assert user_count(api, actor) == 8
    users = bundle / "users.csv"
    with users.open("a") as file:
        file.write("\nstu5,sch1,student,student5@school1test.com,Student,Five,,,,\n")
    full = users.read_bytes()

    def partial_export() -> None:
        partial = bundle / "users.tmp"
        partial.write_bytes(b"\n".join(full.splitlines()[:2]) + b"\n")
        os.replace(partial, users)

    with monkeypatch.context() as patch:
        before_applying(patch, partial_export)
        second = queue_collection(api, actor)
        run_worker(server)
    assert_users_changed_and_nothing_deleted(ingestion(api, actor, second))
    assert user_count(api, actor) == 8
    users.write_bytes(full)
    third = queue_collection(api, actor)
    run_worker(server)
    assert ingestion(api, actor, third)["stats"]["created"] == 1
    assert user_count(api, actor) == 9


def test_a_file_rewritten_in_place_while_applied_fails_before_its_deletions(
    server, api, bundle, monkeypatch
):
    # Beyond the reader's buffers: rewritten in place, the rest of the file is what the
    # applying pass reads, and the users it no longer lists were deleted.
    users = bundle / "users.csv"
    header, *rows = users.read_bytes().splitlines()
    many = [b"u%d,sch1,student,u%d@school1test.com,U,U,,,," % (n, n) for n in range(2000)]
    users.write_bytes(b"\n".join([header, *rows, *many]) + b"\n")
    _, actor = new_collecting_tenant(server, api, bundle)
    queue_collection(api, actor)
    run_worker(server)
    assert len(listed(api, actor, "/v2/interop/data/users")) == 2008
    with users.open("a") as file:  # a new export, or the run would be skipped as unchanged
        file.write("stu5,sch1,student,student5@school1test.com,Student,Five,,,,\n")
    read_rows = collection.iter_rows

    def rewritten_after_the_first_row(bundle_read: Bundle, spec):  # type: ignore[no-untyped-def]
        for count, item in enumerate(read_rows(bundle_read, spec)):
            if spec.file == "users.csv" and count == 1:
                with users.open("r+b") as file:  # the same file, shorter
                    file.truncate(len(header) + 1)
            yield item

    def rewrite_while_applying() -> None:
        monkeypatch.setattr(collection, "iter_rows", rewritten_after_the_first_row)

    before_applying(monkeypatch, rewrite_while_applying)
    second = queue_collection(api, actor)
    run_worker(server)
    assert_users_changed_and_nothing_deleted(ingestion(api, actor, second))
    assert len(listed(api, actor, "/v2/interop/data/users")) == 2008


@pytest.fixture
def outside_file(bundle: Path, tmp_path: Path) -> Path:
    """A users.csv outside the bundle's directory (another export, or any readable file)."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.move(bundle / "users.csv", elsewhere / "users.csv")
    return elsewhere / "users.csv"


@pytest.mark.parametrize("roots", ["bundle", "tmp"], ids=["outside-roots", "another-directory"])
def test_a_link_out_of_a_directory_bundle_is_refused(
    server, api, bundle, tmp_path, outside_file, roots
):
    # The location was checked against the roots, the files in it were not: a users.csv
    # linking to a file outside every root (or to another tenant's export under the same
    # root) was read into the tenant.
    (bundle / "users.csv").symlink_to(outside_file)
    worker_roots = [bundle] if roots == "bundle" else [tmp_path]
    result, actor = run(server, api, bundle, source_roots=worker_roots)
    assert_failed(result, "source_not_allowed")
    assert "users.csv" in result["error"]["message"]
    assert user_count(api, actor) == 0


def test_a_link_swapped_between_the_open_and_the_check_is_refused(
    server, api, bundle, outside_file, monkeypatch
):
    # The file opened through a link leading out; the link then leads in: what was opened is
    # not what the path resolves to.
    inside = bundle / "data" / "users.csv"
    inside.parent.mkdir()
    shutil.copy(outside_file, inside)
    link = bundle / "users.csv"
    link.symlink_to(outside_file)
    realpath = os.path.realpath

    def swapped_first(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(path) == str(link) and link.readlink() == outside_file:
            link.unlink()
            link.symlink_to(inside)
        return realpath(path, *args, **kwargs)

    monkeypatch.setattr(os.path, "realpath", swapped_first)
    result, actor = run(server, api, bundle, source_roots=[bundle])
    assert_failed(result, "source_not_allowed")
    assert user_count(api, actor) == 0


def test_a_link_within_a_directory_bundle_is_read(server, api, bundle):
    # An export published by pointing links at its latest files.
    (bundle / "data").mkdir()
    shutil.move(bundle / "users.csv", bundle / "data" / "users.csv")
    (bundle / "users.csv").symlink_to(Path("data") / "users.csv")
    result, actor = run(server, api, bundle, source_roots=[bundle])
    assert result["state"] == "success", result
    assert user_count(api, actor) == 8


def test_a_zip_bundle_ingests(server, api, bundle, tmp_path):
    result, actor = run(server, api, zipped(bundle, tmp_path / "bundle.zip"))
    assert result["state"] == "success", result
    assert user_count(api, actor) == 8


def test_a_zip_made_by_macos_finder_ingests(server, api, bundle, tmp_path):
    # Finder adds an AppleDouble file per member under __MACOSX/: a second folder of ".csv"
    # names, which made the bundle "more than one folder".
    archive_path = zipped(bundle, tmp_path / "bundle.zip")
    with zipfile.ZipFile(archive_path, "a") as archive:
        for file in sorted(bundle.iterdir()):
            archive.writestr(f"__MACOSX/._{file.name}", b"\x00\x05\x16\x07 resource fork")
    result, actor = run(server, api, archive_path)
    assert result["state"] == "success", result
    assert user_count(api, actor) == 8


def test_a_zip_holding_a_file_twice_fails(server, api, bundle, tmp_path):
    # Each name was read from whichever entry came last: here a users.csv listing nobody,
    # which would have deleted every user a tenant held.
    archive_path = zipped(bundle, tmp_path / "bundle.zip")
    with zipfile.ZipFile(archive_path, "a") as archive, pytest.warns(UserWarning, match="Dup"):
        archive.writestr("users.csv", "sourcedId,orgSourcedIds,role\n")
    result, actor = run(server, api, archive_path)
    assert_failed(result, "invalid_bundle")
    assert result["error"]["message"] == "the zip holds users.csv twice"
    assert user_count(api, actor) == 0


def central_entry(data: bytes, name: str) -> int:
    """Where the zip's central directory entry for `name` starts."""
    offset = data.find(b"PK\x01\x02")
    while offset != -1:
        length = int.from_bytes(data[offset + 28 : offset + 30], "little")
        if data[offset + 46 : offset + 46 + length] == name.encode():
            return offset
        offset = data.find(b"PK\x01\x02", offset + 1)
    raise LookupError(name)


def encrypted(data: bytearray, info: zipfile.ZipInfo) -> None:
    data[central_entry(data, info.filename) + 8] |= 1  # the general purpose flag's bit 0


def compressed_by_method_99(data: bytearray, info: zipfile.ZipInfo) -> None:
    entry = central_entry(data, info.filename)
    data[entry + 10 : entry + 12] = (99).to_bytes(2, "little")


def local_header_broken(data: bytearray, info: zipfile.ZipInfo) -> None:
    data[info.header_offset] = 0  # its signature


def data_broken(data: bytearray, info: zipfile.ZipInfo) -> None:
    start = info.header_offset + 30 + len(info.filename) + 5
    data[start : start + 30] = bytes(byte ^ 0x55 for byte in data[start : start + 30])


@pytest.mark.parametrize(
    ("method", "damage"),
    [
        (zipfile.ZIP_DEFLATED, encrypted),
        (zipfile.ZIP_DEFLATED, compressed_by_method_99),
        (zipfile.ZIP_DEFLATED, local_header_broken),
        (zipfile.ZIP_BZIP2, data_broken),
        (zipfile.ZIP_LZMA, data_broken),
    ],
    ids=["encrypted", "method-99", "local-header", "bzip2-data", "lzma-data"],
)
def test_a_zip_member_that_cannot_be_read_fails_as_an_invalid_bundle(
    server, api, bundle, tmp_path, method, damage
):
    # Opening such a member raised outside the reading's handling (RuntimeError,
    # NotImplementedError, BadZipFile), as did bzip2's and LZMA's errors reading one: the run
    # failed as internal_error, with a traceback logged.
    archive_path = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive_path, "w", method) as archive:
        for file in sorted(bundle.iterdir()):
            content = file.read_bytes()
            if file.name == "users.csv":  # enough rows that its data is more than a header
                content += b"".join(b"\nu%d,sch1,student" % n for n in range(2000))
            archive.writestr(file.name, content)
    data = bytearray(archive_path.read_bytes())
    with zipfile.ZipFile(archive_path) as archive:
        damage(data, archive.getinfo("users.csv"))
    archive_path.write_bytes(bytes(data))
    result, actor = run(server, api, archive_path)
    assert_failed(result, "invalid_bundle")
    assert "users.csv" in result["error"]["message"]
    assert user_count(api, actor) == 0


def test_a_zip_inside_a_zip_is_not_a_bundle(server, api, bundle, tmp_path):
    inner = zipped(bundle, tmp_path / "inner.zip")
    outer = tmp_path / "outer.zip"
    for depth in range(10):
        with zipfile.ZipFile(outer, "w") as archive:
            archive.write(inner, f"level{depth}.zip")
        inner, outer = outer, tmp_path / f"outer{depth}.zip"
    result, _ = run(server, api, inner)
    assert_failed(result, "manifest_missing")


def test_a_zip_bomb_is_refused_by_the_size_limit(server, api, tmp_path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.csv", "propertyName,value\noneroster.version,1.1\n")
        archive.writestr("users.csv", b"\0" * 50_000_000)
    assert bomb.stat().st_size < 200_000
    result, _ = run(server, api, bomb, max_bundle_bytes=10_000_000)
    assert_failed(result, "bundle_too_large")


def test_a_zip_member_that_lies_about_its_size_stops_at_the_declared_size(server, api, tmp_path):
    honest = tmp_path / "honest.zip"
    with zipfile.ZipFile(honest, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.csv", "propertyName,value\noneroster.version,1.1\n")
        archive.writestr("orgs.csv", "sourcedId,name,type\n" + "o,n,school\n" * 100_000)
    data = bytearray(honest.read_bytes())
    # Rewrite the declared size of orgs.csv (central directory and local header) to 100 bytes.
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo("orgs.csv")
    real = info.file_size.to_bytes(4, "little")
    data = data.replace(real, (100).to_bytes(4, "little"))
    lying = tmp_path / "lying.zip"
    lying.write_bytes(bytes(data))
    result, _ = run(server, api, lying)
    assert result["state"] == "failed", result
    assert result["error"]["code"] in ("bundle_too_large", "invalid_bundle")


def test_a_file_that_is_not_a_zip_fails(server, api, tmp_path):
    junk = tmp_path / "junk.zip"
    junk.write_text("this is not a zip")
    result, _ = run(server, api, junk)
    assert_failed(result, "invalid_bundle")


def test_a_location_outside_the_workers_source_roots_is_refused(server, api, tmp_path):
    # The API accepted it under its own roots; the worker reads with its own settings.
    result, _ = run(server, api, ONEROSTER_MINIMAL, source_roots=[tmp_path])
    assert_failed(result, "source_not_allowed")


@pytest.mark.parametrize(
    "location", ["http://[", "ftp://host/export.zip", "/etc", "a\x00b", "http://", "https:"]
)
def test_a_stored_location_that_no_worker_may_read_is_refused(location, tmp_path):
    # What the API now refuses at install may be stored from before: the worker refuses it
    # too (urlparse raises on an unbalanced IPv6 bracket: it was an internal_error; an
    # http(s) URL without a host was fetched, and failed as source_unavailable).
    with (
        pytest.raises(BundleError) as refused,
        open_bundle(location, [tmp_path], 1000, False, tmp_path),
    ):
        pass
    assert refused.value.code == "source_not_allowed"


def test_a_missing_location_fails(server, api, tmp_path):
    result, _ = run(server, api, tmp_path / "nowhere")
    assert_failed(result, "source_unavailable")


def test_a_tenant_without_a_connector_fails_with_no_connector(server, api):
    _, actor = new_tenant(server, api)
    ingestion_id = queue_collection(api, actor)
    run_worker(server)
    assert_failed(ingestion(api, actor, ingestion_id), "no_connector")


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server on loopback serving tmp_path."""
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path))  # noqa: E731
    with serving_http(handler) as base:
        yield base, tmp_path


def test_an_http_zip_ingests(server, api, bundle, http_root):
    base, root = http_root
    zipped(bundle, root / "export.zip")
    result, actor = run(server, api, f"{base}/export.zip")
    assert result["state"] == "success", result
    assert user_count(api, actor) == 8


def test_an_http_source_that_answers_404_fails(server, api, http_root):
    base, _ = http_root
    result, _ = run(server, api, f"{base}/missing.zip")
    assert_failed(result, "source_unavailable")


@pytest.fixture
def hostile_http(bundle: Path, tmp_path: Path) -> Iterator[str]:
    """A real HTTP server on loopback sending a good zip badly: `/drip.zip` a few bytes every
    0.1 s (for 20 s at most), `/gzip.zip` gzip-encoded."""
    payload = zipped(bundle, tmp_path / "payload.zip").read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                if self.path == "/gzip.zip":
                    body = gzip.compress(payload)
                    self.send_response(200)
                    self.send_header("Content-Encoding", "gzip")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                for start in range(0, min(len(payload), 800), 4):
                    self.wfile.write(payload[start : start + 4])
                    self.wfile.flush()
                    time.sleep(0.1)

        def log_message(self, *_args: object) -> None:
            pass

    with serving_http(Handler) as base:
        yield base


def test_a_download_that_drips_ends_at_the_ingestion_time_limit(server, api, hostile_http):
    # Each read waited up to 30 s and the time limit was checked only between batches: a
    # source sending a few bytes a second held the worker, its only thread, for as long.
    started = time.monotonic()
    result, _ = run(server, api, f"{hostile_http}/drip.zip", ingestion_timeout=2)
    assert result["state"] == "timeout", result
    assert result["error"]["code"] == "timeout"
    assert time.monotonic() - started < 15


def test_a_gzip_encoded_download_is_refused(server, api, hostile_http):
    # httpx unpacked each chunk whole before any size check: a small body, gigabytes.
    result, _ = run(server, api, f"{hostile_http}/gzip.zip")
    assert_failed(result, "source_unavailable")
    assert "gzip-encoded" in result["error"]["message"]


def test_loopback_sources_are_refused_unless_allowed(server, api, bundle, http_root):
    base, root = http_root
    zipped(bundle, root / "export.zip")
    result, _ = run(server, api, f"{base}/export.zip", source_allow_private_networks=False)
    assert_failed(result, "source_not_allowed")


def test_install_connector_with_file_url(server, api, bundle):
    owner, actor = new_tenant(server, api, integration="file-url")
    install_connector(api, owner, actor.extra["cloud_id"], bundle.as_uri())
    ingestion_id = queue_collection(api, actor)
    run_worker(server)
    assert ingestion(api, actor, ingestion_id)["state"] == "success"


def test_a_manifest_value_holding_the_nul_character_fails_the_run_as_recorded(server, api, bundle):
    """The failure's message quotes the value: PostgreSQL stores no text holding U+0000, so
    the failed run could not be recorded and stayed `preparing` until its heartbeat went
    stale. The message shows the character escaped, as Python writes it."""
    manifest = (bundle / "manifest.csv").read_text()
    (bundle / "manifest.csv").write_text(manifest.replace("version,1.1", "version,1.\x001"))
    result, _ = run(server, api, bundle)
    assert_failed(result, "unsupported_version")
    assert "oneroster.version 1.\\x001;" in result["error"]["message"]


def test_a_header_holding_the_nul_character_fails_the_run(server, api, bundle):
    """Its column names would be every row's field names, which PostgreSQL cannot store."""
    users = (bundle / "users.csv").read_text()
    (bundle / "users.csv").write_text(users.replace("givenName", "given\x00Name", 1))
    result, _ = run(server, api, bundle)
    assert_failed(result, "invalid_header")
    assert "users.csv's header holds the NUL character" in result["error"]["message"]
