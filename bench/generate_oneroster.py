"""Write a realistic synthetic OneRoster 1.1 CSV bundle: a district, schools, a school year
and two terms, courses, classes of about 25, students in 5 classes each, their teachers and
guardians, enrollments and demographics. Rows are streamed to the files (flat memory) and
every reference resolves.

    python bench/generate_oneroster.py --students 100000 [--out DIR|FILE.zip] [--seed 1]
"""

import argparse
import csv
import random
import shutil
import tempfile
import time
import zipfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

MODIFIED = "2026-08-01T00:00:00Z"
STUDENTS_PER_SCHOOL = 500
CLASSES_PER_STUDENT = 5
CLASS_SIZE = 25
CLASSES_PER_TEACHER = 4
SUBJECTS = (
    "Math",
    "English",
    "Science",
    "History",
    "Art",
    "Music",
    "Spanish",
    "PE",
    "CS",
    "Health",
)
GIVEN = ("Ada", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lena")
FAMILY = ("Nguyen", "Smith", "Garcia", "Okafor", "Kim", "Rossi", "Silva", "Khan", "Novak")
HEADERS = {
    "orgs": "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId",
    "academicSessions": "sourcedId,status,dateLastModified,title,type,startDate,endDate,"
    "parentSourcedId,schoolYear",
    "courses": "sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,"
    "orgSourcedId,subjects,subjectCodes",
    "classes": "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,"
    "classType,location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods",
    "users": "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,"
    "givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password",
    "enrollments": "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,"
    "userSourcedId,role,primary,beginDate,endDate",
    "demographics": "sourcedId,status,dateLastModified,birthDate,sex,"
    "americanIndianOrAlaskaNative,asian,blackOrAfricanAmerican,"
    "nativeHawaiianOrOtherPacificIslander,white,demographicRaceTwoOrMoreRaces,"
    "hispanicOrLatinoEthnicity,countryOfBirthCode,stateOfBirthAbbreviation,cityOfBirth,"
    "publicSchoolResidenceStatus",
}
MANIFEST = [
    ("manifest.version", "1.0"),
    ("oneroster.version", "1.1"),
    *[
        (f"file.{name}", "bulk" if name in HEADERS else "absent")
        for name in (
            "academicSessions",
            "categories",
            "classResources",
            "classes",
            "courseResources",
            "courses",
            "demographics",
            "enrollments",
            "lineItems",
            "orgs",
            "resources",
            "results",
            "users",
        )
    ],
]


def generate(out: Path, students: int, seed: int = 1, schools: int | None = None) -> dict[str, int]:
    """Write the bundle into directory `out` (or a zip when it ends in .zip); row counts."""
    if out.suffix == ".zip":
        with tempfile.TemporaryDirectory() as scratch:
            counts = generate(Path(scratch), students, seed, schools)
            with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
                for file in sorted(Path(scratch).iterdir()):
                    archive.write(file, file.name)
            return counts
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    school_count = schools or max(1, round(students / STUDENTS_PER_SCHOOL))
    with ExitStack() as stack:
        writers = {name: _writer(stack, out, name) for name in HEADERS}
        with (out / "manifest.csv").open("w", newline="") as manifest:
            csv.writer(manifest).writerows([("propertyName", "value"), *MANIFEST])
        _district(writers)
        first_student = 0
        for number in range(1, school_count + 1):
            size = students // school_count + (number <= students % school_count)
            _school(writers, rng, number, first_student, size)
            first_student += size
        return {name: writer.rows for name, writer in writers.items()}


class _Counted:
    def __init__(self, handle: Any) -> None:
        self._writer = csv.writer(handle)
        self.rows = 0

    def row(self, *values: object) -> None:
        self._writer.writerow(values)
        self.rows += 1


def _writer(stack: ExitStack, out: Path, name: str) -> _Counted:
    handle = stack.enter_context((out / f"{name}.csv").open("w", newline=""))
    handle.write(HEADERS[name] + "\r\n")
    return _Counted(handle)


def _district(w: dict[str, _Counted]) -> None:
    w["orgs"].row("org-d1", "active", MODIFIED, "Synthetic District", "district", "D1", "")
    w["academicSessions"].row(
        "year-2027",
        "active",
        MODIFIED,
        "2026-2027",
        "schoolYear",
        "2026-08-15",
        "2027-06-15",
        "",
        "2027",
    )
    for term, (start, end) in enumerate(
        (("2026-08-15", "2027-01-15"), ("2027-01-16", "2027-06-15")), 1
    ):
        w["academicSessions"].row(
            f"term{term}",
            "active",
            MODIFIED,
            f"Term {term}",
            "term",
            start,
            end,
            "year-2027",
            "2027",
        )


def _school(w: dict[str, _Counted], rng: random.Random, number: int, first: int, size: int) -> None:
    school = f"sch-{number:04d}"
    w["orgs"].row(
        school, "active", MODIFIED, f"School {number}", "school", f"SCH{number:04d}", "org-d1"
    )
    courses = [f"crs-{number:04d}-{c:02d}" for c in range(1, len(SUBJECTS) + 1)]
    for course, subject in zip(courses, SUBJECTS, strict=True):
        w["courses"].row(
            course,
            "active",
            MODIFIED,
            "year-2027",
            f"{subject} 9",
            f"{subject[:3].upper()}9",
            "09,10",
            school,
            subject,
            "",
        )
    sections = max(1, size * CLASSES_PER_STUDENT // CLASS_SIZE)
    classes = [f"cls-{number:04d}-{c:04d}" for c in range(1, sections + 1)]
    teachers = [f"tea-{number:04d}-{t:03d}" for t in range(1, sections // CLASSES_PER_TEACHER + 2)]
    for index, klass in enumerate(classes):
        course = courses[index % len(courses)]
        teacher = teachers[index // CLASSES_PER_TEACHER]
        w["classes"].row(
            klass,
            "active",
            MODIFIED,
            f"{SUBJECTS[index % len(SUBJECTS)]} section {index + 1}",
            "09",
            course,
            f"C{index + 1}",
            "scheduled",
            f"Room {100 + index % 50}",
            school,
            "term1,term2",
            SUBJECTS[index % len(SUBJECTS)],
            "",
            str(index % 8 + 1),
        )
        w["enrollments"].row(
            f"enr-{klass}-{teacher}",
            "active",
            MODIFIED,
            klass,
            school,
            teacher,
            "teacher",
            "true",
            "2026-08-15",
            "2027-06-15",
        )
    for teacher in teachers:
        _user(w, rng, teacher, school, "teacher", "", "")
    for offset in range(size):
        student = f"stu-{first + offset + 1:06d}"
        guardian = f"gua-{(first + offset) // 2 + 1:06d}"
        _user(w, rng, student, school, "student", guardian, "09")
        if offset % 2 == 0:  # one guardian for every two students (siblings)
            siblings = [student]
            if offset + 1 < size:
                siblings.append(f"stu-{first + offset + 2:06d}")
            _user(w, rng, guardian, school, "guardian", ",".join(siblings), "")
        for klass in rng.sample(classes, min(CLASSES_PER_STUDENT, len(classes))):
            w["enrollments"].row(
                f"enr-{klass}-{student}",
                "active",
                MODIFIED,
                klass,
                school,
                student,
                "student",
                "false",
                "2026-08-15",
                "2027-06-15",
            )
        w["demographics"].row(
            student,
            "active",
            MODIFIED,
            f"20{rng.randint(10, 12)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
            rng.choice(("male", "female")),
            *(_flag(rng) for _ in range(7)),
            "US",
            "NY",
            "Springfield",
            "01652",
        )


def _user(
    w: dict[str, _Counted],
    rng: random.Random,
    sid: str,
    school: str,
    role: str,
    agents: str,
    grades: str,
) -> None:
    given, family = rng.choice(GIVEN), rng.choice(FAMILY)
    w["users"].row(
        sid,
        "active",
        MODIFIED,
        "true",
        school,
        role,
        f"{sid}@synthetic.test",
        f"{{SIS:{sid}}}",
        given,
        family,
        "",
        sid.upper(),
        f"{sid}@synthetic.test",
        "",
        "",
        agents,
        grades,
        "",
    )


def _flag(rng: random.Random) -> str:
    return "true" if rng.random() < 0.2 else "false"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, required=True)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--schools", type=int)
    args = parser.parse_args()
    out = args.out or Path(f"oneroster-{args.students}")
    if out.is_dir():
        shutil.rmtree(out)
    started = time.perf_counter()
    counts = generate(out, args.students, args.seed, args.schools)
    for name, rows in counts.items():
        print(f"{name:>18}: {rows:,}")
    print(f"wrote {out} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
