"""Which records of a bundle a tenant may receive, from its scoping (SPEC "Scoping").

A tenant without scoping entries receives everything. With entries, only selected schools
(and, when course entries exist, selected courses) are in scope, and what hangs off them
follows: a school out of scope takes the orgs under it (departments), its courses, classes,
enrollments and the users enrolled only there with it. Scoping identifiers match a record's
`sourcedId` or its human identifier (an org's `identifier`, a course's `courseCode`).
"""

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from interop.connectors.bundle import Bundle
from interop.connectors.oneroster_csv import SPECS, SourceRow
from interop.scoping.models import ScopingCourse, ScopingSchool


@dataclass(frozen=True)
class ScopingRules:
    schools: frozenset[str] | None  # None: every school
    courses: frozenset[str] | None  # None: every course of a school in scope


def load_scoping(session: Session, tenant_id: uuid.UUID) -> ScopingRules:
    schools = session.execute(
        select(ScopingSchool.school_id, ScopingSchool.school_ref_id, ScopingSchool.selected).where(
            ScopingSchool.tenant_id == tenant_id
        )
    ).all()
    courses = session.execute(
        select(ScopingCourse.course_id, ScopingCourse.course_ref_id, ScopingCourse.selected).where(
            ScopingCourse.tenant_id == tenant_id
        )
    ).all()
    return ScopingRules(
        schools=_selected_identifiers(schools) if schools else None,
        courses=_selected_identifiers(courses) if courses else None,
    )


def _selected_identifiers(rows: Sequence[Any]) -> frozenset[str]:
    identifiers: set[str] = set()
    for object_id, ref_id, selected in rows:
        if selected:
            identifiers.update(str(value) for value in (object_id, ref_id) if value)
    return frozenset(identifiers)


# What `_schools_above` answers for an org under a parent the bundle lacks.
_LEFT_THE_BUNDLE = "\x00left the bundle"

# Only ids something refers to are kept: enrollments alone are most of a bundle's rows.
REFERENCED_TOPICS = frozenset(target for spec in SPECS for target in spec.references.values())
_NOTHING: frozenset[str] = frozenset()


@dataclass
class BundleIndex:
    """What the planning pass learned: every active id per topic (for reference checks) and
    the ids in the tenant's scope.

    Rows are learned file by file in `SPECS` order, and each file is closed (`close`) before
    the next is read: the scope of an org under a school needs the whole orgs file.

    Every row goes through `place`; a rejected one by what could be read of it: it stands
    for the record it keeps, so rows referring to it are not dangling, and it is placed in
    scope by its values like any row. When a row's values cannot place it (a cell its scope
    depends on is empty or names nothing), the tenant's stored record decides (`admit_held`).
    An active row lands there when its reference dangles (its course was deleted, say): it
    will be rejected when rows are written, and must be judged here as the rejected row it is,
    or what hangs off it would be judged out of scope and deleted while it is kept.

    One value settles a row's scope whatever the others name, so a class whose course names
    nothing placed is placed by its school, and an enrollment whose class names nothing
    placed by the school it names: on a first load nothing is held, and the held record
    could not decide for what hangs off them.
    """

    rules: ScopingRules
    known: dict[str, set[str]] = field(default_factory=dict)
    # Rows whose values cannot place them (all to be rejected), per topic, until `admit_held`.
    unplaced: dict[str, list[SourceRow]] = field(default_factory=dict)
    # The ids of those the tenant does not hold: records of the bundle of unknown scope.
    unknown_scope: dict[str, set[str]] = field(default_factory=dict)
    schools: set[str] = field(default_factory=set)
    # Each org under a school (a department), to the school it is under.
    org_schools: dict[str, str] = field(default_factory=dict)
    # Orgs that are not schools, until the orgs file is read (`close`).
    non_school_orgs: dict[str, SourceRow] = field(default_factory=dict)
    # Those under a parent the bundle lacks: their values cannot place them (`close`).
    unplaceable_orgs: set[str] = field(default_factory=set)
    orgs_in_scope: set[str] = field(default_factory=set)
    courses_in_scope: set[str] = field(default_factory=set)
    classes_in_scope: set[str] = field(default_factory=set)
    enrolled_in_scope: set[str] = field(default_factory=set)
    users_in_scope: set[str] = field(default_factory=set)

    everything: bool = field(init=False)

    def __post_init__(self) -> None:
        # A tenant without scoping entries receives everything: no row is out of scope,
        # whatever the index could make of its neighbours.
        self.everything = self.rules.schools is None and self.rules.courses is None

    def learns_from(self, topic: str) -> bool:
        """Whether the topic's rows can add anything to the index: its ids, when other files
        refer to them, or, for a scoped tenant, the users enrolled in scope. Nothing refers to
        a demographics row, and a demographics row places nothing in scope (its own scope is
        its user's); a tenant receiving everything needs no scope at all."""
        return topic in REFERENCED_TOPICS or (topic == "enrollments" and not self.everything)

    def learn(self, topic: str, row: SourceRow) -> None:
        """Index one row its values place (see `place`); files arrive in `SPECS` order."""
        if topic in REFERENCED_TOPICS:
            self.known.setdefault(topic, set()).add(row.sourced_id)
        fields = row.fields
        if topic == "orgs":
            self._learn_org(row)
        elif topic == "courses":
            if self._course_in_scope(row):
                self.courses_in_scope.add(row.sourced_id)
        elif topic == "classes":
            if self._class_in_scope(fields):
                self.classes_in_scope.add(row.sourced_id)
        elif topic == "enrollments":
            if self._enrollment_in_scope(fields):
                self.enrolled_in_scope.add(fields.get("user_sourced_id") or "")
        elif topic == "users" and self._user_in_scope(row):
            self.users_in_scope.add(row.sourced_id)

    def _learn_org(self, row: SourceRow) -> None:
        fields = row.fields
        if fields.get("type") == "school":
            self.schools.add(row.sourced_id)
            if _matches(self.rules.schools, row.sourced_id, fields, "identifier"):
                self.orgs_in_scope.add(row.sourced_id)
        else:
            # Its scope is its school's, settled once the whole file is read (`close`): a
            # parent may come after its child. A repeated id keeps its first row, as the
            # collection writes the first row.
            self.non_school_orgs.setdefault(row.sourced_id, row)

    def close(self, topic: str) -> None:
        """The topic's file is read whole: settle what needed all of it. An org that is no
        school is in scope with the school it is under, however deep; one under no school
        (the district, a department of the district) is in scope for every tenant. One whose
        chain reaches a parent the bundle lacks cannot be placed: that parent may be the
        school it was under (a school that left the export), so the tenant's stored record
        decides (`admit_held`), as for any row whose values cannot place it."""
        if topic != "orgs":
            return
        known = self.known.setdefault("orgs", set())
        for org, school in self._schools_above().items():
            if school is _LEFT_THE_BUNDLE:
                if not self.everything:
                    known.discard(org)
                    self.unplaceable_orgs.add(org)
                    self.unplaced.setdefault("orgs", []).append(self.non_school_orgs[org])
                    continue
                school = None
            if school is not None:
                self.org_schools[org] = school
            if school is None or school in self.orgs_in_scope:
                self.orgs_in_scope.add(org)

    def _schools_above(self) -> dict[str, str | None]:
        """The first school up each non-school org's parent chain: None when the chain ends
        or loops, `_LEFT_THE_BUNDLE` when it reaches a parent that is no org of the bundle
        (or one whose type cannot be read). Each org is walked once (what a walk passes
        shares its answer), so a long chain of departments costs no more than a flat one."""
        above: dict[str, str | None] = {}
        for org in self.non_school_orgs:
            chain: dict[str, None] = {}  # ordered, and a set for the loop check
            node: str | None = org
            while (
                node in self.non_school_orgs
                and node not in self.schools
                and node not in above
                and node not in chain  # a loop
            ):
                chain[node] = None
                node = self.non_school_orgs[node].fields.get("parent_sourced_id")
            # The walk stopped at a school, at an org already answered, or where the chain
            # ended, left the bundle or looped.
            if node in self.schools:
                school: str | None = node
            elif node in above:
                school = above[node]
            elif node and node not in chain:
                school = _LEFT_THE_BUNDLE
            else:
                school = None
            above.update(dict.fromkeys(chain, school))
        return above

    def place(self, topic: str, row: SourceRow) -> None:
        """Index an active row, or what could be read of a rejected one (see the class)."""
        if self.everything or self.placed(topic, row):
            self.learn(topic, row)
        else:
            self.unplaced.setdefault(topic, []).append(row)

    def admit_held(self, topic: str, held: set[str]) -> None:
        """Settle the topic's unplaced rows: one whose record the tenant holds was placed in
        scope by an earlier run and stays there, with what refers to it; the others stay
        unknown, so rows referring to them are rejected rather than placed."""
        # Enrollments (and demographics) have no set of their own: one left unplaced names a
        # class (a user) the bundle lacks, so it is rejected for that before its scope is
        # asked; a held enrollment still keeps its user in scope, below.
        in_scope = {
            "orgs": self.orgs_in_scope,
            "courses": self.courses_in_scope,
            "classes": self.classes_in_scope,
            "users": self.users_in_scope,
        }.get(topic, set())
        for row in self.unplaced.pop(topic, []):
            if row.sourced_id not in held:
                self.unknown_scope.setdefault(topic, set()).add(row.sourced_id)
                continue
            in_scope.add(row.sourced_id)
            if topic in REFERENCED_TOPICS:
                self.known.setdefault(topic, set()).add(row.sourced_id)
            if topic == "enrollments":
                self.enrolled_in_scope.add(row.fields.get("user_sourced_id") or "")

    def placed(self, topic: str, row: SourceRow) -> bool:
        """Whether the row's own values decide its scope: the cells the rules read are filled
        and name records of the bundle, or one that does settles it whatever the others name
        (a class whose school is out of scope is out; a user enrolled in scope is in). Files
        arrive in `SPECS` order, so they already do."""
        # Asked of every row of a scoped tenant's bundle: the largest files first.
        fields = row.fields
        if topic == "enrollments":
            return self._enrollment_placed(fields)
        if topic == "users":
            return self._user_placed(row)
        if topic == "demographics":
            return self._names("users", row.sourced_id)
        if topic == "classes":
            return self._class_placed(fields)
        if topic == "courses":
            return self._names("orgs", fields.get("org_sourced_id"))
        if topic == "orgs":
            return bool(fields.get("type")) and row.sourced_id not in self.unplaceable_orgs
        return True

    def _course_in_scope(self, row: SourceRow) -> bool:
        return row.fields.get("org_sourced_id") in self.orgs_in_scope and _matches(
            self.rules.courses, row.sourced_id, row.fields, "course_code"
        )

    def _class_placed(self, fields: dict[str, Any]) -> bool:
        """A class needs both its school and its course in scope: either one named and out
        of scope places it out, whatever the other names. A course that names nothing placed
        leaves the school to settle it (`_in_by_its_school`)."""
        school = fields.get("school_sourced_id")
        course = fields.get("course_sourced_id")
        school_named = self._names("orgs", school)
        if school_named and school not in self.orgs_in_scope:
            return True
        if self._names("courses", course):
            return school_named or course not in self.courses_in_scope
        return self._in_by_its_school(school)

    def _class_in_scope(self, fields: dict[str, Any]) -> bool:
        """For a class placed (or any, for a tenant receiving everything)."""
        school = fields.get("school_sourced_id")
        course = fields.get("course_sourced_id")
        if self._names("courses", course):
            return school in self.orgs_in_scope and course in self.courses_in_scope
        return self._in_by_its_school(school)

    def _enrollment_placed(self, fields: dict[str, Any]) -> bool:
        """An enrollment goes with its class. One whose class names nothing placed goes with
        the school it names, the class's school, as that class would: out with a school out
        of scope, in with one `_in_by_its_school`."""
        if self._names("classes", fields.get("class_sourced_id")):
            return True
        school = fields.get("school_sourced_id")
        if self._names("orgs", school) and school not in self.orgs_in_scope:
            return True
        return self._in_by_its_school(school)

    def _enrollment_in_scope(self, fields: dict[str, Any]) -> bool:
        """For an enrollment placed (or any, for a tenant receiving everything)."""
        class_ = fields.get("class_sourced_id")
        if class_ in self.classes_in_scope:
            return True
        return not self._names("classes", class_) and self._in_by_its_school(
            fields.get("school_sourced_id")
        )

    def _in_by_its_school(self, org: str | None) -> bool:
        """Whether a class whose course cannot be read (or an enrollment whose class cannot)
        is in scope by its school alone: the org is a selected school or under one, and no
        course entries narrow the scope (then the course would have to be a selected one,
        which nothing tells). An org under no school (the district) is every tenant's, so it
        tells nothing of the class."""
        return self.rules.courses is None and self._of_school_in_scope(org)

    def _of_school_in_scope(self, org: str | None) -> bool:
        """Whether the org is a school in scope, or an org under one."""
        if not org:
            return False
        school = self.org_schools.get(org, org)
        return school in self.schools and school in self.orgs_in_scope

    def _user_placed(self, row: SourceRow) -> bool:
        """A user needs one enrollment or one school in scope: either places it in, whatever
        its other orgs name. Otherwise every org must be named, since one the bundle lacks
        may be the school that put the user in scope (a district alongside it does not)."""
        orgs = row.fields.get("org_sourced_ids") or []
        if orgs and self.known.get("orgs", _NOTHING).issuperset(orgs):
            return True
        if row.sourced_id in self.enrolled_in_scope:
            return True
        return any(self._of_school_in_scope(org) for org in orgs)

    def _names(self, topic: str, sourced_id: str | None) -> bool:
        # No empty id is ever learned, so an empty or missing cell names nothing.
        return sourced_id in self.known.get(topic, _NOTHING)

    def excludes(self, topic: str, row: SourceRow) -> bool:
        """Whether the row's values place it out of scope: then it is read but neither
        written, rejected nor kept, whatever else is wrong with it."""
        return not self.everything and self.placed(topic, row) and not self.in_scope(topic, row)

    def excludes_stored(self, topic: str, row: SourceRow) -> bool:
        """Whether a stored record of a topic the bundle lacks is out of scope by its values,
        judged as its row would be in the file: a tenant whose scope narrowed kept reading
        the records of every file its next bundles left out. One its values cannot place
        stays, as a held record does. Orgs are where the scope starts (the schools): without
        their file nothing places one, and academic sessions are every tenant's."""
        if self.everything or topic in ("orgs", "academic_sessions"):
            return False
        if not self.placed(topic, row):
            return False
        fields = row.fields
        if topic == "courses":
            return not self._course_in_scope(row)
        if topic == "classes":
            return not self._class_in_scope(fields)
        if topic == "users":
            return not self._user_in_scope(row)
        return not self.in_scope(topic, row)  # enrollments by their values, demographics

    def _user_in_scope(self, row: SourceRow) -> bool:
        if row.sourced_id in self.enrolled_in_scope:
            return True
        orgs = row.fields.get("org_sourced_ids") or []
        # A department's user belongs to the department's school.
        school_orgs = [self.org_schools.get(org, org) for org in orgs]
        school_orgs = [org for org in school_orgs if org in self.schools]
        if school_orgs:
            return any(org in self.orgs_in_scope for org in school_orgs)
        # Staff of the district alone (no school) belong to every tenant of the district.
        return any(org in self.orgs_in_scope for org in orgs)

    def in_scope(self, topic: str, row: SourceRow) -> bool:
        if self.everything:
            return True
        if topic == "orgs":
            return row.sourced_id in self.orgs_in_scope
        if topic == "courses":
            return row.sourced_id in self.courses_in_scope
        if topic == "classes":
            return row.sourced_id in self.classes_in_scope
        if topic == "enrollments":
            return self._enrollment_in_scope(row.fields)
        if topic in ("users", "demographics"):
            return row.sourced_id in self.users_in_scope
        return True  # academic sessions belong to the whole district


def _matches(
    selected: frozenset[str] | None, sourced_id: str, fields: dict[str, Any], key: str
) -> bool:
    if selected is None:
        return True
    return sourced_id in selected or (fields.get(key) or "") in selected


# What the engine makes of a bundle: change it whenever the same bundle under the same
# scoping stores something else (a scope or rejection rule changed). A collection whose
# fingerprint matches the tenant's last one is not run, so without this a tenant whose export
# does not change would keep what an older version made of it until it did.
# tests/engine/test_collection_rules.py fails when the output changes and this does not; after
# a bump, record its digests as README.md "Development" says.
COLLECTION_RULES = "2026-11-28.6"


def source_fingerprint(bundle: Bundle, rules: ScopingRules, retain_deletes: bool) -> str:
    """What decides a collection's outcome: the bundle's bytes, the scoping, the rollover,
    and the rules the engine applies (`COLLECTION_RULES`)."""
    files = ["manifest.csv", *(spec.file for spec in SPECS)]
    scope = json.dumps(
        [
            sorted(rules.schools or []),
            rules.schools is None,
            sorted(rules.courses or []),
            rules.courses is None,
            retain_deletes,
            COLLECTION_RULES,
        ]
    )
    return hashlib.sha256((bundle.fingerprint(files) + scope).encode()).hexdigest()
