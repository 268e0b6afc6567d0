"""Every table, imported in one place so metadata (and Alembic) sees the whole schema."""

from interop.accounts.models import Account, ApiKey
from interop.actors.models import Actor
from interop.auth.models import SigningKey
from interop.clouds.models import Cloud
from interop.db import Base
from interop.integrations.models import Integration, IntegrationVersion
from interop.tenants.models import Tenant

__all__ = [
    "Account",
    "Actor",
    "ApiKey",
    "Base",
    "Cloud",
    "Integration",
    "IntegrationVersion",
    "SigningKey",
    "Tenant",
]
