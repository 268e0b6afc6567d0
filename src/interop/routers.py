"""Every API router, in the order the OpenAPI document lists them."""

from fastapi import APIRouter

from interop.accounts.router import router as accounts_router
from interop.actors.router import router as actors_router
from interop.application.router import router as application_router
from interop.clientkeys.router import router as clientkeys_router
from interop.clouds.router import router as clouds_router
from interop.ingestions.router import router as ingestions_router
from interop.integrations.router import router as integrations_router
from interop.lti.router import router as lti_router
from interop.rollovers.router import router as rollovers_router
from interop.roster.router import router as roster_router
from interop.schedules.router import router as schedules_router
from interop.scoping.router import router as scoping_router
from interop.tenants.router import router as tenants_router

API_ROUTERS: tuple[APIRouter, ...] = (
    clouds_router,
    actors_router,
    integrations_router,
    tenants_router,
    scoping_router,
    application_router,
    rollovers_router,
    schedules_router,
    ingestions_router,
    roster_router,
    clientkeys_router,
    lti_router,
    accounts_router,
)
