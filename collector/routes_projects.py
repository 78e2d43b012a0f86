"""Projects, keys and per-project settings (admin routes), and ``whoami`` for any key.

The bootstrap admin key (``TRACEHOUSE_ADMIN_KEY``) manages every project; a project key with the ``admin``
scope manages only its own project. Keys are shown once, at creation or rotation; afterwards a key is known
by its ``key_id`` (the first 16 hex digits of its SHA-256), which is safe to log.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from tracehouse.storage import InvalidQueryError, Store
from tracehouse.storage.store import hash_key

from . import serialize
from .auth import Authenticator, AuthError, Principal
from .policy import POLICIES
from .pricing import PriceOverrides
from .project_config import DEFAULT_TENANT, PRICES, REDACTION, ProjectConfigs


class ProjectIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class KeyIn(BaseModel):
    scopes: list[str] = Field(default_factory=lambda: ["ingest", "read"])
    name: str = Field(default="", max_length=200, description="a label, e.g. 'ci-ingest'")


class PriceIn(BaseModel):
    model: str = Field(min_length=1, max_length=300, description="exact model name or a glob (my-ft-*)")
    provider: str = Field(default="", max_length=100, description="limit to one provider (empty: any)")
    input: float = Field(ge=0, description="USD per million input tokens")
    output: float = Field(ge=0, description="USD per million output tokens")
    cache_read: float | None = Field(default=None, ge=0)
    cache_write: float | None = Field(default=None, ge=0)


class SettingsIn(BaseModel):
    redaction: str | None = Field(default=None, description=f"one of {', '.join(POLICIES)}; null keeps it")
    prices: list[PriceIn] | None = Field(default=None, max_length=1000,
                                         description="replaces the project's price overrides; [] clears them")
    retention_days: int | None = Field(default=None, ge=1, le=3650)
    default_tenant: str | None = Field(default=None, max_length=500,
                                       description="tenant for spans that name none; \"\" clears it")


def projects_router(store: Store, auth: Authenticator, configs: ProjectConfigs,
                    scope: Callable[[str], Callable[..., Principal]]) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["projects"])

    def own(principal: Principal, project_id: str) -> None:
        """404 for a project that does not exist or that this admin key may not see (same answer: no probing)."""
        if principal.project not in (None, project_id) or not store.project_exists(project_id):
            raise ProjectNotFound(project_id)

    @router.get("/whoami")
    def whoami(principal: Principal = Depends(scope("any"))) -> dict[str, Any]:
        """The caller's project, scopes and key id (the dashboard shows which project a key opens)."""
        name = None
        if principal.project:
            found = store.list_projects(principal.project)
            name = found[0]["name"] if found else None
        return {"project": principal.project, "project_name": name, "scopes": sorted(principal.scopes),
                "key_id": principal.key_id}

    @router.post("/projects", status_code=201)
    def create_project(body: ProjectIn, principal: Principal = Depends(scope("admin"))) -> dict[str, str]:
        if principal.project is not None:
            raise AuthError(403, "only the bootstrap admin key (TRACEHOUSE_ADMIN_KEY) creates projects")
        project_id = store.create_project(body.name)
        return {"id": project_id, "name": body.name}

    @router.get("/projects")
    def list_projects(principal: Principal = Depends(scope("admin"))) -> dict[str, Any]:
        return {"items": [serialize.plain_json(p) for p in store.list_projects(principal.project)]}

    @router.post("/projects/{project_id}/keys", status_code=201)
    def create_key(project_id: str, body: KeyIn, principal: Principal = Depends(scope("admin"))) -> dict[str, Any]:
        own(principal, project_id)
        key = store.create_key(project_id, body.scopes, body.name)
        return {"key": key, "key_id": _key_id(key), "name": body.name,
                "scopes": sorted(set(body.scopes)), "project": project_id}

    @router.get("/projects/{project_id}/keys")
    def list_keys(project_id: str, include_revoked: bool = False,
                  principal: Principal = Depends(scope("admin"))) -> dict[str, Any]:
        own(principal, project_id)
        keys = [k for k in store.list_keys(project_id) if include_revoked or not k["revoked"]]
        return {"items": [serialize.plain_json(k) for k in keys]}

    @router.delete("/projects/{project_id}/keys/{key_id}")
    def revoke_key(project_id: str, key_id: str, principal: Principal = Depends(scope("admin"))) -> Any:
        own(principal, project_id)
        revoked = store.revoke_key(project_id, key_id)
        if revoked is None:
            return JSONResponse({"detail": f"key {key_id} not found in project {project_id}"}, status_code=404)
        auth.forget()
        return revoked

    @router.post("/projects/{project_id}/keys/{key_id}/rotate", status_code=201)
    def rotate_key(project_id: str, key_id: str, principal: Principal = Depends(scope("admin"))) -> Any:
        """A new key with the same scopes and name; the old one is revoked at once. For an overlap, create a
        second key first and revoke the old one when clients have moved."""
        own(principal, project_id)
        old = next((k for k in store.list_keys(project_id) if k["key_id"] == key_id and not k["revoked"]), None)
        if old is None:
            return JSONResponse({"detail": f"active key {key_id} not found in project {project_id}"},
                                status_code=404)
        key = store.create_key(project_id, old["scopes"], old["name"])
        store.revoke_key(project_id, key_id)
        auth.forget()
        return {"key": key, "key_id": _key_id(key), "name": old["name"],
                "scopes": list(old["scopes"]), "project": project_id, "replaces": key_id}

    @router.get("/projects/{project_id}/settings")
    def get_settings(project_id: str, principal: Principal = Depends(scope("admin"))) -> dict[str, Any]:
        own(principal, project_id)
        return _settings_json(store, configs, project_id)

    @router.patch("/projects/{project_id}/settings")
    def update_settings(project_id: str, body: SettingsIn,
                        principal: Principal = Depends(scope("admin"))) -> dict[str, Any]:
        """Change the content policy (applies to spans ingested from now on), price overrides (which win over
        the bundled table and the server's file), the default tenant of spans that name none, or retention
        (for rows written from now on)."""
        own(principal, project_id)
        if body.redaction is not None and body.redaction not in POLICIES:
            raise InvalidQueryError(f"redaction must be one of {', '.join(POLICIES)}, got {body.redaction!r}")
        prices = None if body.prices is None else [p.model_dump(exclude_none=True) for p in body.prices]
        if prices:
            try:
                PriceOverrides.from_config(prices)
            except ValueError as exc:
                raise InvalidQueryError(str(exc)) from exc
        if body.redaction is not None:
            store.set_project_setting(project_id, REDACTION, body.redaction)
        if prices is not None:
            store.set_project_setting(project_id, PRICES, prices or None)
        if body.default_tenant is not None:
            store.set_project_setting(project_id, DEFAULT_TENANT, body.default_tenant or None)
        if body.retention_days is not None:
            store.set_retention(project_id, body.retention_days)
        configs.forget(project_id)
        return _settings_json(store, configs, project_id)

    @router.post("/projects/{project_id}/forget")
    def forget(project_id: str, body: ForgetIn, principal: Principal = Depends(scope("admin"))) -> dict[str, Any]:
        """Right to be forgotten: delete every span of a tenant, a user, or a user within a tenant, and what
        derives from them; returns once the data is gone from disk, with a recount (``verified``)."""
        own(principal, project_id)
        if not body.tenant and not body.user:
            raise InvalidQueryError("name a tenant, a user, or both")
        report = store.delete_subject(project_id, tenant=body.tenant, user=body.user)
        return dataclasses.asdict(report) | {"verified": report.verified}

    return router


class ForgetIn(BaseModel):
    tenant: str | None = Field(default=None, min_length=1, max_length=500)
    user: str | None = Field(default=None, min_length=1, max_length=500)


class ProjectNotFound(Exception):
    def __init__(self, project_id: str) -> None:
        super().__init__(f"project {project_id!r} not found")


def _key_id(key: str) -> str:
    return hash_key(key)[:16]


def _settings_json(store: Store, configs: ProjectConfigs, project_id: str) -> dict[str, Any]:
    projects = store.list_projects(project_id)
    return {"project": project_id, **configs.describe(project_id),
            "retention_days": int(projects[0]["retention_days"]) if projects else store.default_retention_days}
