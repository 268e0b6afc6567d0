"""Every table, imported in one place so metadata (and Alembic) sees the whole schema."""

from interop.accounts.models import Account, ApiKey
from interop.actors.models import Actor
from interop.application.models import TenantApplication
from interop.auth.models import SigningKey
from interop.clientkeys.models import ClientKey, UsedAssertion
from interop.clouds.models import Cloud
from interop.db import Base
from interop.ingestions.models import Ingestion, IngestionStateTotal
from interop.integrations.models import Integration, IntegrationVersion
from interop.lti.models import LtiPlatform
from interop.ratelimit import RateLimitBucket
from interop.rollovers.models import Rollover
from interop.roster.models import (
    RosterAcademicSession,
    RosterClass,
    RosterCourse,
    RosterDemographic,
    RosterEnrollment,
    RosterOrg,
    RosterUser,
)
from interop.schedules.models import Schedule
from interop.scoping.models import ScopingCourse, ScopingSchool
from interop.tenants.models import Tenant

__all__ = [
    "Account",
    "Actor",
    "ApiKey",
    "Base",
    "ClientKey",
    "Cloud",
    "Ingestion",
    "IngestionStateTotal",
    "Integration",
    "IntegrationVersion",
    "LtiPlatform",
    "RateLimitBucket",
    "Rollover",
    "RosterAcademicSession",
    "RosterClass",
    "RosterCourse",
    "RosterDemographic",
    "RosterEnrollment",
    "RosterOrg",
    "RosterUser",
    "Schedule",
    "ScopingCourse",
    "ScopingSchool",
    "SigningKey",
    "Tenant",
    "TenantApplication",
    "UsedAssertion",
]
