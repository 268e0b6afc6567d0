"""Every API router, in the order the OpenAPI document lists them."""

from fastapi import APIRouter

from interop.actors.router import router as actors_router
from interop.clouds.router import router as clouds_router
from interop.integrations.router import router as integrations_router
from interop.tenants.router import router as tenants_router

API_ROUTERS: tuple[APIRouter, ...] = (
    clouds_router,
    actors_router,
    integrations_router,
    tenants_router,
)
