"""Scoping entries: which schools and courses a tenant's repository receives."""

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from interop.schemas import InputModel, JsonUUID


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


class ScopingSchoolIn(InputModel):
    school_id: JsonUUID | None = None
    school_ref_id: str | None = Field(default=None, min_length=1, max_length=255)
    name: str | None = Field(default=None, max_length=255)
    local_id: str | None = Field(default=None, max_length=255)
    keywords: str | None = Field(default=None, max_length=255)
    selected: bool = True


class ScopingCourseIn(ScopingSchoolIn):
    course_id: JsonUUID | None = None
    course_ref_id: str | None = Field(default=None, min_length=1, max_length=255)


class ScopingSchoolsIn(InputModel):
    data: list[ScopingSchoolIn]


class ScopingCoursesIn(InputModel):
    data: list[ScopingCourseIn]
