"""A collection fills the tenant's repository from a OneRoster bundle: counts, scoping,
change detection and deletions, on both backends, through the public API."""

import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete, update

from factories import (
    ONEROSTER_MINIMAL,
    ONEROSTER_RECOMMENDED,
    Caller,
    collect,
    new_collecting_tenant,
)
from interop.db import Database
from interop.engine import scope
from interop.roster.models import topic_table

TOPICS = ("orgs", "academic_sessions", "courses", "classes", "users", "enrollments", "demographics")
MINIMAL_COUNTS = {
    "orgs": 3,
    "academic_sessions": 3,
    "courses": 2,
    "classes": 3,
    "users": 8,
    "enrollments": 9,
    "demographics": 4,
}


def stored(api: httpx.Client, actor: Caller, topic: str, **params: str) -> list[dict]:
    response = api.get(f"/v2/interop/data/{topic}", params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def counts(api: httpx.Client, actor: Caller) -> dict[str, int]:
    return {topic: len(stored(api, actor, topic)) for topic in TOPICS}


def copy_bundle(source: Path, tmp_path: Path) -> Path:
    target = tmp_path / "bundle"
    shutil.copytree(source, target)
    return target


def test_minimal_bundle_ingests_with_exact_counts(server, api):
    _, actor = new_collecting_tenant(server, api, ONEROSTER_MINIMAL)
    result = collect(server, api, actor)
    assert result["state"] == "success", result
    assert result["stats"] == {
        "records_read": 32,
        "created": 32,
        "updated": 0,
        "deleted": 0,
        "rejected": 0,
    }
    assert counts(api, actor) == MINIMAL_COUNTS
    assert result["progress"]["users.csv"] == 8


def test_recommended_bundle_ingests_with_exact_counts(server, api):
    _, actor = new_collecting_tenant(server, api, ONEROSTER_RECOMMENDED)
    result = collect(server, api, actor)
    assert result["state"] == "success", result
    got = counts(api, actor)
    assert got == {
        "orgs": 2,
        "academic_sessions": 3,
        "courses": 2,
        "classes": 3,
        "users": 8,
        "enrollments": 9,
        "demographics": 4,
    }
    assert result["stats"]["created"] == sum(got.values())


def test_records_carry_oneroster_fields_in_snake_case(server, api):
    _, actor = new_collecting_tenant(server, api, ONEROSTER_RECOMMENDED)
    collect(server, api, actor)
    cla = api.get("/v2/interop/data/classes/cla1", headers=actor.headers).json()["data"]
    assert cla["course_sourced_id"] == "cou1"
    assert cla["term_sourced_ids"] == ["ter1", "ter2"]
    assert cla["status"] == "active"
    assert cla["updated_at"]
    user = api.get("/v2/interop/data/users/gua1", headers=actor.headers).json()["data"]
    assert user["enabled_user"] is True
    assert user["agent_sourced_ids"] == ["stu1"]
    assert "password" not in user


def test_unknown_sourced_id_is_404(server, api):
    _, actor = new_collecting_tenant(server, api, ONEROSTER_MINIMAL)
    response = api.get("/v2/interop/data/users/nobody", headers=actor.headers)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_scoping_to_one_school_keeps_only_its_data(server, api):
    _, actor = new_collecting_tenant(server, api, ONEROSTER_MINIMAL)
    scoping = api.post(
        "/v2/interop/tenant/scoping/schools",
        json={"data": [{"school_ref_id": "sch2"}]},
        headers=actor.headers,
    )
    assert scoping.status_code == 200, scoping.text
    collect(server, api, actor)
    assert counts(api, actor) == {
        "orgs": 2,  # the district and sch2
        "academic_sessions": 3,
        "courses": 0,
        "classes": 0,
        "users": 0,
        "enrollments": 0,
        "demographics": 0,
    }
    assert {org["sourced_id"] for org in stored(api, actor, "orgs")} == {"lea1", "sch2"}


def test_narrowing_the_scope_deletes_what_left_it(server, api):
    _, actor = new_collecting_tenant(server, api, ONEROSTER_MINIMAL)
    collect(server, api, actor)
    api.post(
        "/v2/interop/tenant/scoping/courses",
        json={"data": [{"course_ref_id": "cou1"}]},
        headers=actor.headers,
    )
    result = collect(server, api, actor)
    assert {c["sourced_id"] for c in stored(api, actor, "classes")} == {"cla1"}
    enrolled = {e["user_sourced_id"] for e in stored(api, actor, "enrollments")}
    assert enrolled == {"stu1", "stu2", "tea1", "proc1"}
    # Everyone still belongs to sch1, which stays in scope: users remain.
    assert len(stored(api, actor, "users")) == 8
    assert result["stats"]["deleted"] == 1 + 2 + 5  # cou2, cla2+cla3, their 5 enrollments


@pytest.mark.parametrize(
    "scoping",
    [
        ("schools", {"school_ref_id": "sch2"}),
        ("schools", {"school_ref_id": "sch1"}),
        ("courses", {"course_ref_id": "cou1"}),
    ],
    ids=["to-sch2", "to-sch1", "to-cou1"],
)
def test_narrowing_the_scope_judges_the_stored_records_of_files_the_bundle_lacks(
    server, api, tmp_path, scoping
):
    # Scoping was applied to the rows a bundle holds only: a tenant whose scope narrowed
    # kept the records of every file its next bundles called absent (users, demographics).
    # Judged by their stored values, they now leave as their rows would have.
    kind, entry = scoping
    stored_ids = {}
    for files in ("whole", "lacking"):
        bundle = copy_bundle(ONEROSTER_MINIMAL, tmp_path / files)
        _, actor = new_collecting_tenant(server, api, bundle)
        collect(server, api, actor)
        narrowed = api.post(
            f"/v2/interop/tenant/scoping/{kind}", json={"data": [entry]}, headers=actor.headers
        )
        assert narrowed.status_code == 200, narrowed.text
        if files == "lacking":
            lack(bundle, "users", "demographics")
        collect(server, api, actor)
        stored_ids[files] = {
            topic: {record["sourced_id"] for record in stored(api, actor, topic)}
            for topic in ("users", "demographics")
        }
    assert stored_ids["lacking"] == stored_ids["whole"]


def lack(bundle: Path, *topics: str) -> None:
    """The bundle's manifest calls these files absent, and it holds none of them."""
    manifest = (bundle / "manifest.csv").read_text()
    for topic in topics:
        manifest = manifest.replace(f"file.{topic},bulk", f"file.{topic},absent")
        (bundle / f"{topic}.csv").unlink()
    (bundle / "manifest.csv").write_text(manifest)


def test_an_unchanged_second_run_changes_nothing(server, api):
    _, actor = new_collecting_tenant(server, api, ONEROSTER_MINIMAL)
    collect(server, api, actor)
    before = stored(api, actor, "users")
    result = collect(server, api, actor)
    assert result["stats"] == {
        "records_read": 32,
        "created": 0,
        "updated": 0,
        "deleted": 0,
        "rejected": 0,
    }
    assert stored(api, actor, "users") == before


def test_edits_additions_and_deletions_show_in_stats_and_changed_since(server, api, tmp_path):
    bundle = copy_bundle(ONEROSTER_RECOMMENDED, tmp_path)
    _, actor = new_collecting_tenant(server, api, bundle)
    first = collect(server, api, actor)
    since = first["completed_at"]
    orgs = (bundle / "orgs.csv").read_text()
    orgs = orgs.replace("The Other School", "The Renamed School")
    orgs += "sch3,active,,A New School,school,sch3X3,\n"
    (bundle / "orgs.csv").write_text(orgs)
    users = [
        line for line in (bundle / "users.csv").read_text().splitlines() if "proc1" not in line
    ]
    (bundle / "users.csv").write_text("\n".join(users) + "\n")
    enrollments = [
        line
        for line in (bundle / "enrollments.csv").read_text().splitlines()
        if "proc1" not in line
    ]
    (bundle / "enrollments.csv").write_text("\n".join(enrollments) + "\n")

    second = collect(server, api, actor)
    assert second["stats"]["created"] == 1
    assert second["stats"]["updated"] == 1
    assert second["stats"]["deleted"] == 2  # proc1 and its enrollment
    changed_orgs = stored(api, actor, "orgs", changed_since=since)
    assert {(o["sourced_id"], o["status"]) for o in changed_orgs} == {
        ("sch2", "active"),
        ("sch3", "active"),
    }
    changed_users = stored(api, actor, "users", changed_since=since)
    assert [(u["sourced_id"], u["status"]) for u in changed_users] == [("proc1", "tobedeleted")]
    assert "proc1" not in {u["sourced_id"] for u in stored(api, actor, "users")}
    gone = api.get("/v2/interop/data/users/proc1", headers=actor.headers)
    assert gone.status_code == 404


def test_a_change_is_listed_after_the_latest_one_read_even_when_its_clock_is_behind(
    server, api, tmp_path
):
    """A client continues after the latest change it read. A run whose clock is behind the
    stored changes (an earlier run's host ran ahead; a clock stepped back) still stamps its
    changes after them, edits and deletions alike, so that they are listed."""
    bundle = copy_bundle(ONEROSTER_RECOMMENDED, tmp_path)
    _, actor = new_collecting_tenant(server, api, bundle)
    collect(server, api, actor)
    ahead = datetime.now(UTC) + timedelta(hours=1)
    database = Database(server.database_url)
    try:
        with database.transaction() as session:
            for topic in ("orgs", "users"):
                table = topic_table(topic)
                session.execute(
                    update(table)
                    .where(table.c.tenant_id == uuid.UUID(actor.extra["tenant_id"]))
                    .values(updated_at=ahead)
                )
    finally:
        database.dispose()
    latest_read = {
        topic: max(record["updated_at"] for record in stored(api, actor, topic))
        for topic in ("orgs", "users")
    }
    orgs = (bundle / "orgs.csv").read_text().replace("The Other School", "The Renamed School")
    (bundle / "orgs.csv").write_text(orgs)
    for name in ("users.csv", "enrollments.csv"):
        kept = [line for line in (bundle / name).read_text().splitlines() if "proc1" not in line]
        (bundle / name).write_text("\n".join(kept) + "\n")

    result = collect(server, api, actor)

    assert (result["stats"]["updated"], result["stats"]["deleted"]) == (1, 2)
    changed_orgs = stored(api, actor, "orgs", changed_since=latest_read["orgs"])
    assert [(o["sourced_id"], o["name"]) for o in changed_orgs] == [("sch2", "The Renamed School")]
    changed_users = stored(api, actor, "users", changed_since=latest_read["users"])
    assert [(u["sourced_id"], u["status"]) for u in changed_users] == [("proc1", "tobedeleted")]


def test_a_row_marked_tobedeleted_is_deleted(server, api, tmp_path):
    bundle = copy_bundle(ONEROSTER_RECOMMENDED, tmp_path)
    _, actor = new_collecting_tenant(server, api, bundle)
    collect(server, api, actor)
    orgs = (bundle / "orgs.csv").read_text().replace("sch2,active", "sch2,tobedeleted")
    (bundle / "orgs.csv").write_text(orgs)
    result = collect(server, api, actor)
    assert result["stats"]["deleted"] == 1
    assert {o["sourced_id"] for o in stored(api, actor, "orgs")} == {"sch1"}


def test_a_file_the_manifest_calls_absent_deletes_nothing_and_an_empty_one_everything(
    server, api, tmp_path
):
    bundle = copy_bundle(ONEROSTER_RECOMMENDED, tmp_path)
    _, actor = new_collecting_tenant(server, api, bundle)
    collect(server, api, actor)
    held = len(stored(api, actor, "demographics"))
    assert held > 0
    # `absent`: the export says nothing of demographics; before, every stored one was deleted.
    manifest = (bundle / "manifest.csv").read_text()
    (bundle / "manifest.csv").write_text(
        manifest.replace("file.demographics,bulk", "file.demographics,absent")
    )
    header = (bundle / "demographics.csv").read_text().splitlines()[0]
    (bundle / "demographics.csv").unlink()
    result = collect(server, api, actor)
    assert result["stats"]["deleted"] == 0
    assert len(stored(api, actor, "demographics")) == held
    # A bulk file with no rows says there are none.
    (bundle / "manifest.csv").write_text(manifest)
    (bundle / "demographics.csv").write_text(header + "\n")
    result = collect(server, api, actor)
    assert result["stats"]["deleted"] == held
    assert stored(api, actor, "demographics") == []


def test_a_file_the_manifest_calls_absent_is_not_read_even_when_the_bundle_holds_it(
    server, api, tmp_path
):
    """A leftover the export says it does not supply: read, it deleted every record of its
    topic it did not list."""
    bundle = copy_bundle(ONEROSTER_RECOMMENDED, tmp_path)
    _, actor = new_collecting_tenant(server, api, bundle)
    collect(server, api, actor)
    held = stored(api, actor, "demographics")
    assert held
    manifest = (bundle / "manifest.csv").read_text()
    (bundle / "manifest.csv").write_text(
        manifest.replace("file.demographics,bulk", "file.demographics,Absent")
    )
    header = (bundle / "demographics.csv").read_text().splitlines()[0]
    (bundle / "demographics.csv").write_text(header + "\n")

    result = collect(server, api, actor)

    assert result["stats"]["deleted"] == 0
    assert stored(api, actor, "demographics") == held


def test_bad_rows_are_rejected_with_file_and_line_and_good_rows_land(server, api, tmp_path):
    bundle = copy_bundle(ONEROSTER_MINIMAL, tmp_path)
    users = (bundle / "users.csv").read_text().splitlines()
    users.append("stu9,sch9,student,s9@x.test,Student,Nine,,s9@x.test,1,")  # dangling org
    users.append(",sch1,student,nobody@x.test,No,Id,,n@x.test,1,")  # no sourcedId
    users.append("stu1,sch1,student,dup@x.test,Dup,Licate,,d@x.test,1,")  # duplicate
    (bundle / "users.csv").write_text("\n".join(users) + "\n")
    demographics = (bundle / "demographics.csv").read_text() + "stu3,01/02/2010,Male\n"
    (bundle / "demographics.csv").write_text(demographics)
    _, actor = new_collecting_tenant(server, api, bundle)
    result = collect(server, api, actor)
    assert result["state"] == "success"
    assert result["stats"]["rejected"] == 4
    assert result["stats"]["created"] == 32
    rejected = {(r["file"], r["line"]): r for r in result["details"]["rejected_rows"]}
    assert set(rejected) == {
        ("users.csv", 10),
        ("users.csv", 11),
        ("users.csv", 12),
        ("demographics.csv", 6),
    }
    assert "orgSourcedIds 'sch9'" in rejected[("users.csv", 10)]["message"]
    assert "sourcedId" in rejected[("users.csv", 11)]["message"]
    assert rejected[("users.csv", 12)]["message"] == "duplicate sourcedId"
    assert "birthDate" in rejected[("demographics.csv", 6)]["message"]
    assert counts(api, actor) == MINIMAL_COUNTS


def test_a_tenant_reads_only_its_own_repository(server, api, tmp_path):
    _, first = new_collecting_tenant(server, api, ONEROSTER_MINIMAL)
    collect(server, api, first)
    _, second = new_collecting_tenant(server, api, ONEROSTER_RECOMMENDED)
    assert stored(api, second, "users") == []
    assert api.get("/v2/interop/data/users/stu1", headers=second.headers).status_code == 404


def test_changed_since_must_be_rfc3339(server, api):
    _, actor = new_collecting_tenant(server, api, ONEROSTER_MINIMAL)
    response = api.get(
        "/v2/interop/data/users", params={"changed_since": "yesterday"}, headers=actor.headers
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_account_principals_cannot_read_roster_data(server, api):
    owner, actor = new_collecting_tenant(server, api, ONEROSTER_MINIMAL)
    collect(server, api, actor)
    assert api.get("/v2/interop/data/users", headers=owner.headers).status_code == 403


def test_a_deleted_record_that_returns_counts_as_created(server, api, tmp_path):
    bundle = copy_bundle(ONEROSTER_RECOMMENDED, tmp_path)
    _, actor = new_collecting_tenant(server, api, bundle)
    collect(server, api, actor)
    original = (bundle / "orgs.csv").read_text()
    without_new_school = original.replace("sch2,active", "sch2,tobedeleted")
    (bundle / "orgs.csv").write_text(without_new_school)
    assert collect(server, api, actor)["stats"]["deleted"] == 1
    (bundle / "orgs.csv").write_text(original)

    back = collect(server, api, actor)
    assert (back["stats"]["created"], back["stats"]["updated"], back["stats"]["deleted"]) == (
        1,
        0,
        0,
    )
    record = api.get("/v2/interop/data/orgs/sch2", headers=actor.headers)
    assert record.status_code == 200
    assert record.json()["data"]["status"] == "active"


def test_a_source_is_collected_again_after_the_engine_rules_change(server, api, monkeypatch):
    """An unchanged source is not collected again, unless what the engine makes of it has
    changed since (a new release's scope or rejection rules): then the run is a full one, and
    repairs what the older rules stored."""
    _, actor = new_collecting_tenant(server, api, ONEROSTER_MINIMAL)
    monkeypatch.setattr(scope, "COLLECTION_RULES", "an older release")
    collect(server, api, actor)
    _delete_stored(
        server, actor.extra["tenant_id"], "users", "stu1"
    )  # what the older rules left differs

    monkeypatch.undo()
    result = collect(server, api, actor)
    assert result["stats"]["created"] == 1
    assert "stu1" in {u["sourced_id"] for u in stored(api, actor, "users")}

    repeat = collect(server, api, actor)  # unchanged under the same rules: nothing to do
    assert repeat["stats"]["created"] == 0


def _delete_stored(server, tenant_id: str, topic: str, sourced_id: str) -> None:
    database = Database(server.database_url)
    table = topic_table(topic)
    try:
        with database.transaction() as session:
            session.execute(
                delete(table).where(
                    table.c.tenant_id == uuid.UUID(tenant_id), table.c.sourced_id == sourced_id
                )
            )
    finally:
        database.dispose()
