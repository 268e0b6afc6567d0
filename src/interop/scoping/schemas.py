"""Scoping entries: which schools and courses a tenant's repository receives."""

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from interop.schemas import InputModel, JsonUUID, NonBlank


class ScopingSchool(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    account_id: uuid.UUID
    tenant_id: uuid.UUID
    school_id: uuid.UUID | None
    school_ref_id: str | None
    name: str | None
    local_id: str | None
    keywords: str | None
    selected: bool
    created_at: datetime
    updated_at: datetime
    version: int


class ScopingCourse(ScopingSchool):
    course_id: uuid.UUID | None
    course_ref_id: str | None


def _needs_one_of(*names: str) -> dict[str, Any]:
    """The schema's way of saying what the service checks: at least one identifier."""
    return {
        "anyOf": [{"required": [name], "properties": {name: {"type": "string"}}} for name in names]
    }


class ScopingSchoolIn(InputModel):
    model_config = ConfigDict(json_schema_extra=_needs_one_of("school_id", "school_ref_id"))

    school_id: JsonUUID | None = None
    school_ref_id: NonBlank | None = Field(default=None, min_length=1, max_length=255)
    name: str | None = Field(default=None, max_length=255)
    local_id: str | None = Field(default=None, max_length=255)
    keywords: str | None = Field(default=None, max_length=255)
    selected: bool = True


class ScopingCourseIn(ScopingSchoolIn):
    model_config = ConfigDict(json_schema_extra=_needs_one_of("course_id", "course_ref_id"))

    course_id: JsonUUID | None = None
    course_ref_id: NonBlank | None = Field(default=None, min_length=1, max_length=255)


class ScopingSchoolsIn(InputModel):
    data: list[ScopingSchoolIn]


class ScopingCoursesIn(InputModel):
    data: list[ScopingCourseIn]
