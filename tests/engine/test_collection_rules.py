"""A guard on `scope.COLLECTION_RULES`: what the engine makes of the same bundles under the
same scoping is fingerprinted and compared with the digests recorded for the current rules
version (collection_fingerprints.json). A collection whose source is unchanged is skipped
unless that version changed, so an engine change that alters a tenant's data without a bump
would leave every tenant with what the old rules stored: this test fails instead.

Record the digests of a new version (after a bump) with
`INTEROP_RECORD_FINGERPRINTS=1 make test PYTEST_ARGS='tests/engine/test_collection_rules.py'`;
recording never replaces a digest already recorded for the version.
"""

import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from factories import (
    ONEROSTER_MINIMAL,
    ONEROSTER_RECOMMENDED,
    Caller,
    collect,
    listed,
    new_collecting_tenant,
)
from interop.engine import scope

FINGERPRINTS = Path(__file__).with_name("collection_fingerprints.json")
RECORD_COMMAND = (
    "INTEROP_RECORD_FINGERPRINTS=1 make test PYTEST_ARGS='tests/engine/test_collection_rules.py'"
)
TOPICS = ("orgs", "academic_sessions", "courses", "classes", "users", "enrollments", "demographics")
# Before any record's change: a changed_since listing from it holds deletions too.
THE_BEGINNING = "1970-01-01T00:00:00Z"

# Rows replaced by file and sourcedId (the header under `sourcedId`); None leaves the row out,
# and a key no row has adds its line at the end (so `enr1 again` repeats enr1).
Edits = dict[str, dict[str, str | None]]

# More than a sourcedId column holds (MAX_SOURCED_ID_LENGTH).
TOO_LONG_ID = "u" * 256
# The recommended bundle given one row for each rule a collection applies: departments (a
# chain, a loop, one under a parent the export lacks), rows that break a rule of the format
# (a required value, a status, a date, a boolean, a timestamp, one past year 9999 in UTC, too
# many values, a repeated or too long sourcedId, the NUL character in a value and in a
# sourcedId), references that dangle or name a rejected record, a metadata column, lists, a
# deletion and a password.
RULE_BREAKING: Edits = {
    "orgs.csv": {
        "sourcedId": "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId,"
        "metadata.region",
        "sch1": "sch1,active,,The School,school,sch1X1,lea1,north",
        "sch2": "sch2,active,2021-09-01T08:00:00Z,The Other School,school,sch2X2,lea1,south",
        "lea1": "lea1,active,,The District,district,LEA1,",
        "dep1": "dep1,active,,Science,department,DEP1,sch1",
        "dep2": "dep2,active,,Arts,department,DEP2,sch2",
        "dep3": "dep3,active,,Music,department,DEP3,dep2",
        "dep4": "dep4,active,,Lost,department,DEP4,org9",
        "dep5": "dep5,active,,Loop A,department,,dep6",
        "dep6": "dep6,active,,Loop B,department,,dep5",
        "sch3": "sch3,active,2021-13-01,Bad Time School,school,sch3X3,lea1",
        "sch4": "sch4,retired,,Bad Status School,school,sch4X4,lea1",
    },
    "academicSessions.csv": {
        "ter4": "ter4,active,,Term 4,term,2022-01-10,2022-03-31,sy9,",
        "ter5": "ter5,active,,Term 5,term,2022-04-01,31/06/2022,,",
        "ter6": "ter6,tobedeleted,,Term 6,term,2022-04-01,2022-06-30,,",
        "ter7": "ter7,active,9999-12-31T23:59:59-01:00,Term 7,term,2022-04-01,2022-06-30,,",
    },
    "courses.csv": {
        "cou3": 'cou3,,,,Art,art,"09, 10",sch2,Art,',
        "cou4": "cou4,,,,,c4,,sch2,,",
        "cou5": "cou5,,,,Ghost,c5,,org9,,",
        "cou6": "cou6,,,,Science,sci,,dep1,,",
    },
    "classes.csv": {
        "cla4": 'cla4,active,,Art A,,cou3,a1,scheduled,,sch2,"ter1,ter3",,,1',
        "cla5": "cla5,active,,Orphan,,cou9,o1,,,sch1,ter1,,,",
        "cla6": "cla6,active,,Untitled Course Class,,cou4,u1,,,sch2,ter2,,,",
        "cla7": "cla7,active,,Ghost Class,,cou5,g1,,,sch2,ter2,,,",
        "cla8": "cla8,active,,Science Lab,,cou6,s1,,,dep1,ter1,,,",
        "cla9": "cla9,active,,Too Many,,cou1,t1,,,sch1,ter1,,,,extra",
    },
    "enrollments.csv": {
        "enr10": "enr10,active,,cla4,sch2,stu5,student,,2021-09-20,2022-06-30",
        "enr11": "enr11,active,,cla5,sch1,stu6,student,,2021-09-20,2022-06-30",
        "enr12": "enr12,active,,cla99,sch2,stu7,student,,2021-09-20,2022-06-30",
        "enr13": "enr13,active,,cla4,sch2,tea3,teacher,yes,2021-09-20,2022-06-30",
        "enr14": "enr14,active,,cla8,dep1,stu6,student,,2021/09/20,",
        "enr15": "enr15,active,,cla7,sch2,stu5,student,,,",
        "enr16": "enr16,active,,cla6,sch2,tea3,teacher,TRUE,,",
        "enr1 again": "enr1,active,,cla1,sch1,stu1,student,,2021-09-20,2021-12-19",
        "enr17": f"enr17,active,,cla1,sch1,{TOO_LONG_ID},student,,,",
    },
    "users.csv": {
        "stu5": 'stu5,active,,true,sch2,student,stu5,,Student,Five,,stu5X2,,,,,"09,10",secret',
        "stu6": "stu6,active,,FALSE,dep1,student,stu6,,Student,Six,,,,,,gua9,,",
        "stu7": 'stu7,active,,true,"sch2,org9",student,stu7,,Student,Seven,,,,,,,,',
        "tea3": 'tea3,active,,true,"sch2,dep2",teacher,tea3,,Teacher,Three,,,,,,,,',
        "adm1": "adm1,active,,true,lea1,administrator,adm1,,District,Admin,,,,,,,,",
        "stu8": "stu8,active,,maybe,sch2,student,stu8,,Student,Eight,,,,,,,,",
        "stu9": "stu9,tobedeleted,,true,sch1,student,stu9,,Student,Nine,,,,,,,,",
        "too long": f"{TOO_LONG_ID},active,,true,sch1,student,long,,Long,Id,,,,,,,,",
        "stu10": "stu10,active,,true,sch1,student,stu10,,Student,Te\x00n,,,,,,,,",
        "nul id": "stu\x0011,active,,true,sch1,student,stu11,,Student,Eleven,,,,,,,,",
    },
    "demographics.csv": {
        "stu5": "stu5,,,2010-05-01,Female,false,true,false,false,false,false,false,US,CA,Fresno,",
        "stu6": "stu6,,,2010-13-01,Male,,,,,,,,,,,",
        "gua9": "gua9,,,1980-01-01,Male,,,,,,,,,,,",
        "tea3": "tea3,,,1990-01-01,Female,false,false,false,false,false,false,false,,,,",
    },
}
# What the next export of that district changes: records leave it (a course with a class, a
# department with one under it), one is renamed and one deleted.
LATER: Edits = {
    "orgs.csv": {"dep2": None},
    "courses.csv": {"cou3": None},
    "enrollments.csv": {"enr3": None},
    "users.csv": {
        "stu2": "stu2,active,,true,sch1,student,student2@gedu.demo.kimonocloud.com,,Student,"
        "Renamed,,stu2X1,student2@gedu.demo.kimonocloud.com,,3571592862,gua1,,",
        "tea1": "tea1,tobedeleted,,true,sch1,teacher,teacher1@gedu.demo.kimonocloud.com,,"
        "Teacher,One,,tea1X1,teacher1@gedu.demo.kimonocloud.com,,3579872864,,,",
    },
    "demographics.csv": {"tea2": None},
}


@dataclass(frozen=True)
class Case:
    """A tenant's collections of one bundle: one after each step's edits (cumulative)."""

    bundle: Path
    steps: tuple[Edits, ...] = ({},)
    schools: tuple[str, ...] = ()  # school_ref_id of each scoping entry
    courses: tuple[str, ...] = ()  # course_ref_id of each scoping entry


CASES = {
    "minimal": Case(ONEROSTER_MINIMAL),
    "recommended": Case(ONEROSTER_RECOMMENDED),
    "recommended-school": Case(ONEROSTER_RECOMMENDED, schools=("sch1",)),
    "recommended-course": Case(ONEROSTER_RECOMMENDED, courses=("c2",)),
    "rule-breaking": Case(ONEROSTER_RECOMMENDED, steps=(RULE_BREAKING, LATER)),
    "rule-breaking-school": Case(
        ONEROSTER_RECOMMENDED, steps=(RULE_BREAKING, LATER), schools=("sch2X2",)
    ),
    "rule-breaking-course": Case(
        ONEROSTER_RECOMMENDED,
        steps=(RULE_BREAKING, LATER),
        schools=("sch1", "sch2"),
        courses=("art", "cou1", "sci"),
    ),
}


# --- the bundle ------------------------------------------------------------------------------


def apply_edits(bundle: Path, edits: Edits) -> None:
    """Rewrite the files the edits name; the others keep their bytes."""
    for file, rows in edits.items():
        path = bundle / file
        lines = path.read_text(encoding="utf-8-sig").splitlines()
        kept = [rows.get(line.split(",", 1)[0], line) for line in lines]
        present = {line.split(",", 1)[0] for line in lines}
        added = [line for key, line in rows.items() if key not in present]
        path.write_text("\n".join(line for line in kept + added if line is not None) + "\n")


# --- what a tenant receives ------------------------------------------------------------------


def scope_tenant(api: httpx.Client, actor: Caller, case: Case) -> None:
    for kind, key, identifiers in (
        ("schools", "school_ref_id", case.schools),
        ("courses", "course_ref_id", case.courses),
    ):
        if identifiers:
            response = api.post(
                f"/v2/interop/tenant/scoping/{kind}",
                json={"data": [{key: identifier} for identifier in identifiers]},
                headers=actor.headers,
            )
            assert response.status_code == 200, response.text


def report(ingestion: dict[str, Any]) -> dict[str, Any]:
    """What a collection records that the same bundle and rules decide: not its ids, times,
    nor the source fingerprint (which holds COLLECTION_RULES itself)."""
    details = {k: v for k, v in ingestion["details"].items() if k != "source_fingerprint"}
    details["rejected_rows"] = sorted(
        details["rejected_rows"], key=lambda row: (row["file"], row["line"])
    )
    return {
        "state": ingestion["state"],
        "error": ingestion["error"],
        "stats": ingestion["stats"],
        "progress": ingestion["progress"],
        "details": details,
    }


def records(api: httpx.Client, actor: Caller) -> dict[str, list[dict[str, Any]]]:
    """Every record the tenant holds, deletions included, by sourcedId, without the time
    each changed."""
    held = {}
    for topic in TOPICS:
        items = listed(api, actor, f"/v2/interop/data/{topic}", changed_since=THE_BEGINNING)
        held[topic] = sorted(
            ({k: v for k, v in item.items() if k != "updated_at"} for item in items),
            key=lambda item: item["sourced_id"],
        )
    return held


def engine_output(server: Any, api: httpx.Client, case: Case, bundle: Path) -> list[Any]:
    """Each collection's report and the tenant's records after it."""
    shutil.copytree(case.bundle, bundle)
    _, actor = new_collecting_tenant(server, api, bundle)
    scope_tenant(api, actor, case)
    output = []
    for edits in case.steps:
        apply_edits(bundle, edits)
        ingestion = collect(server, api, actor)
        output.append({"report": report(ingestion), "records": records(api, actor)})
    return output


def digest_of(output: Any) -> str:
    canonical = json.dumps(output, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- the recorded digests --------------------------------------------------------------------


@contextmanager
def recorded_for_change() -> Iterator[dict[str, dict[str, str]]]:
    """The recorded digests, written back when the block ends without an error; locked
    against the other test processes recording at the same time (each database's run records
    every case)."""
    with FINGERPRINTS.open("a+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        recorded = json.loads(handle.read() or "{}")
        yield recorded
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(recorded, indent=2, sort_keys=True) + "\n")


def record(case: str, digest: str) -> None:
    """Record the case's digest under the current rules version, which replaces the digests of
    older versions but never one of its own."""
    rules = scope.COLLECTION_RULES
    with recorded_for_change() as recorded:
        digests = recorded.get(rules, {})
        assert digests.get(case, digest) == digest, (
            f"COLLECTION_RULES {rules!r} already has another digest recorded for {case!r} "
            f"({digests[case]}, this run {digest}). Bump COLLECTION_RULES in "
            "src/interop/engine/scope.py and record again; if this run recorded it moments "
            "ago on the other database, SQLite and PostgreSQL disagree on the output, which "
            "the fingerprint must canonicalise."
        )
        recorded.clear()
        recorded[rules] = {**digests, case: digest}


def check(case: str, digest: str, saved: Path) -> None:
    rules = scope.COLLECTION_RULES
    recorded = json.loads(FINGERPRINTS.read_text(encoding="utf-8"))
    expected = recorded.get(rules, {}).get(case)
    assert expected is not None, (
        f"No fingerprint of the engine's output is recorded for case {case!r} under "
        f"COLLECTION_RULES {rules!r} (tests/engine/collection_fingerprints.json holds "
        f"{sorted(recorded)}). Record the digests of this rules version with {RECORD_COMMAND} "
        "and commit the file."
    )
    assert digest == expected, (
        f"What the engine makes of the bundles of case {case!r} changed (digest {digest}, "
        f"recorded {expected}) while COLLECTION_RULES stayed {rules!r}. A tenant whose export "
        "does not change would keep what the old rules stored: its next collection is "
        "skipped as a repeat. If the change is meant, bump COLLECTION_RULES in "
        "src/interop/engine/scope.py (today's date and a sequence number, 'YYYY-MM-DD.N'), "
        f"then record the new digests with {RECORD_COMMAND} and commit "
        "tests/engine/collection_fingerprints.json. If it is not meant, the engine's output "
        f"changed by mistake. This run's output is in {saved}: compare it with the same "
        "file from a run of the previous commit."
    )


@pytest.mark.parametrize("name", list(CASES))
def test_the_engine_output_is_the_one_recorded_for_its_rules_version(server, api, name, tmp_path):
    output = engine_output(server, api, CASES[name], tmp_path / "bundle")
    saved = tmp_path / f"{name}.json"
    saved.write_text(json.dumps(output, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    digest = digest_of(output)
    if os.environ.get("INTEROP_RECORD_FINGERPRINTS") == "1":
        record(name, digest)
    else:
        check(name, digest, saved)
