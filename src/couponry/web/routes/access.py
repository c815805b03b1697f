"""Dashboard, admins only: API keys (create, revoke) and users (create, disable)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from couponry.api.schemas.common import ResourceIdPath
from couponry.domain.errors import Conflict, InvalidInput
from couponry.services.access import keys as api_keys
from couponry.services.access import users as people
from couponry.services.access.actors import Role
from couponry.services.access.users import User
from couponry.services.ids import utcnow
from couponry.web import security
from couponry.web.templating import render

router = security.web_router(prefix="/dashboard")
Admin = Annotated[User, Depends(security.require_user(Role.ADMIN))]
KEY_ROLES = [
    ("admin", "admin: everything"),
    ("store", "store: one store's campaigns"),
    ("pos", "pos: validate and redeem"),
    ("storefront", "storefront: wallet, claims, validation"),
]
USER_ROLES = [("admin", "admin"), ("store", "store"), ("pos", "pos (the POS page only)")]


def _keys_page(
    request: Request,
    *,
    values: dict | None = None,
    errors: dict | None = None,
    secret: str | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "dashboard/keys.html",
        {
            "keys": api_keys.list_keys(request.app.state.db),
            "roles": KEY_ROLES,
            "v": values or {"role": "admin"},
            "errors": errors or {},
            "secret": secret,
        },
        status_code=status_code,
    )


@router.get("/keys")
def keys_page(request: Request, user: Admin) -> Response:
    return _keys_page(request)


@router.post("/keys")
def create_key(
    request: Request,
    user: Admin,
    name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=20)] = "",
    store_id: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    values = {"name": name, "role": role, "store_id": store_id}
    try:
        _, secret = api_keys.create_key(
            request.app.state.db, role=role, name=name, store_id=store_id.strip() or None, now=utcnow()
        )
    except InvalidInput as exc:
        return _keys_page(
            request, values=values, errors={exc.field: exc.detail.split(": ", 1)[-1]}, status_code=422
        )
    return _keys_page(request, secret=secret, status_code=201)


@router.post("/keys/{key_id}/revoke")
def revoke_key(request: Request, user: Admin, key_id: ResourceIdPath) -> Response:
    api_keys.revoke_key(request.app.state.db, key_id, utcnow())
    return RedirectResponse("/dashboard/keys", status_code=303)


def _users_page(
    request: Request,
    *,
    values: dict | None = None,
    errors: dict | None = None,
    created: tuple[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "dashboard/users.html",
        {
            "users": people.list_users(request.app.state.db),
            "roles": USER_ROLES,
            "v": values or {"role": "store"},
            "errors": errors or {},
            "created": created,
        },
        status_code=status_code,
    )


@router.get("/users")
def users_page(request: Request, user: Admin) -> Response:
    return _users_page(request)


@router.post("/users")
def create_user(
    request: Request,
    user: Admin,
    email: Annotated[str, Form(max_length=320)] = "",
    role: Annotated[str, Form(max_length=20)] = "",
    store_id: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    values = {"email": email, "role": role, "store_id": store_id}
    password = people.generate_password()
    try:
        made = people.create_user(
            request.app.state.db, email=email, role=role, password=password, store_id=store_id, now=utcnow()
        )
    except InvalidInput as exc:
        return _users_page(
            request, values=values, errors={exc.field: exc.detail.split(": ", 1)[-1]}, status_code=422
        )
    except Conflict as exc:
        return _users_page(request, values=values, errors={"email": exc.detail}, status_code=409)
    return _users_page(request, created=(made.email, password), status_code=201)


@router.post("/users/{user_id}/disable")
def disable_user(request: Request, user: Admin, user_id: ResourceIdPath) -> Response:
    if user_id == user.id:
        return _users_page(request, errors={"_": "You cannot disable your own account."}, status_code=409)
    people.disable_user(request.app.state.db, user_id, utcnow())
    return RedirectResponse("/dashboard/users", status_code=303)
