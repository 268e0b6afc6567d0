"""Domain errors and the error envelope every 4xx/5xx response carries.

Services raise `InteropError` subclasses (never HTTP exceptions); `app.py` turns them into
`{"error": {...}}` with the status below. Every code the API can return is listed in
`ERROR_CODES`, so the OpenAPI document can enumerate them per operation.
"""

from typing import Any

# code -> (status, what it means). The OpenAPI document and the docs are generated from this.
ERROR_CODES: dict[str, tuple[int, str]] = {
    "invalid_request": (400, "The body, a query or a path parameter is malformed or invalid."),
    "read_only_field": (
        400,
        "A read-only field was given a value that differs from the stored one.",
    ),
    "invalid_blueprint": (400, "The blueprint XML is malformed, hostile or incomplete."),
    "version_mismatch": (400, "The blueprint's Version differs from the version in the path."),
    "not_runnable": (400, "This kind of schedule cannot run on demand."),
    "invalid_token": (
        401,
        "The bearer token or Basic credentials are missing, invalid or revoked.",
    ),
    "wrong_principal": (403, "The credentials are valid but of the other principal kind."),
    "not_found": (404, "No such object, or the caller may not see it."),
    "method_not_allowed": (405, "The path exists but not with this method."),
    "concurrent_modification": (409, "If-Match does not match the object's current version."),
    "cloud_name_taken": (409, "The account already has a cloud with this name."),
    "integration_name_taken": (409, "An integration with this name already exists."),
    "integration_in_use": (409, "The integration still has tenants."),
    "integration_already_installed": (409, "The integration is already installed in this cloud."),
    "version_exists": (409, "The integration already has this version."),
    "version_in_use": (409, "A tenant runs this version."),
    "duplicate_scoping_entry": (409, "A scoping entry repeats an identifier already present."),
    "auth_not_updating": (409, "The application's pending auth state is not 'updating'."),
    "rollover_overlap": (409, "The date range overlaps another rollover of the tenant."),
    "rollover_active": (409, "An active rollover cannot be deleted."),
    "schedule_overlap": (409, "The tenant already has a collection schedule at this hour."),
    "schedule_paused": (409, "The schedule is disabled."),
    "ingestion_pending": (409, "The tenant already has a pending ingestion."),
    "lti_platform_exists": (409, "The account has this issuer and client_id registered already."),
    "client_key_exists": (
        409,
        "The client already has this key: the same kid, key material or JWKS URL.",
    ),
    "request_timeout": (
        408,
        "The request's head did not arrive within the time limit; the connection is closed.",
    ),
    "request_too_large": (413, "The request body exceeds the size limit."),
    "unsupported_media_type": (415, "The request's Content-Type is not accepted here."),
    "rate_limited": (429, "Too many requests for these credentials; see Retry-After."),
    "request_header_fields_too_large": (
        431,
        "The request's URL and headers together, or its trailer fields, exceed the size limit.",
    ),
    "internal_error": (500, "An unexpected error; the server log has the details."),
    "database_unavailable": (503, "The database cannot be reached; retry later."),
}


class InteropError(Exception):
    """An error a caller can cause or meet, with a stable `code`."""

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unregistered error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    @property
    def status(self) -> int:
        return ERROR_CODES[self.code][0]


class NotFound(InteropError):
    def __init__(self, what: str) -> None:
        super().__init__("not_found", f"{what} not found")


class Conflict(InteropError):
    pass


class InvalidRequest(InteropError):
    def __init__(self, message: str, details: Any = None, code: str = "invalid_request") -> None:
        super().__init__(code, message, details)


def error_body(status: int, code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The envelope of SPEC §1: the same shape for every 4xx/5xx."""
    return {
        "error": {
            "status": status,
            "code": code,
            "message": message,
            "ext_message": None,
            "details": details,
        }
    }
