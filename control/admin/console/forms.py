"""Reading what a console form sends: the query of a GET form (blank fields are not filters) and the fields of a
POST form. Every problem is a 400 ApiError whose detail names the field, which the page shows in its alert."""

from __future__ import annotations

from collections.abc import Collection

from aiohttp import web

from control.admin.console.session import CSRF_FIELD
from control.admin.errors import bad_request
from control.admin.inputs import clean, single_values


def query_fields(request: web.Request, known: Collection[str]) -> dict[str, str]:
    """The query of a GET form: each name known and given once, each value clean text, stripped; a blank field
    is left out (a form sends every field, filled or not)."""
    values = single_values(request.query, known)
    return {name: value.strip() for name, value in values.items() if value.strip()}


async def form_fields(request: web.Request, known: Collection[str], *,
                      free_text: Collection[str] = ()) -> dict[str, str]:
    """The fields of a POST form but its csrf (checked before the handler runs): each known, given once, text
    (not a file). Fields in `free_text` (a textarea) may hold line breaks and tabs; others no control character."""
    values: dict[str, str] = {}
    for name, value in (await request.post()).items():
        if name == CSRF_FIELD:
            continue
        if name not in known:
            raise bad_request(f"unknown form field '{clean(name, 'a form field name')}'; this form sends: "
                              f"{', '.join(sorted(known)) or 'nothing'}")
        if not isinstance(value, str):
            raise bad_request(f"{name}: must be text, not a file")
        if name in values:
            raise bad_request(f"{name}: given more than once")
        values[name] = value if name in free_text else clean(value, name).strip()
    return values


def required(values: dict[str, str], name: str, what: str) -> str:
    """The field `name`, which must not be blank (`what` says what it should hold)."""
    value = values.get(name, "")
    if not value:
        raise bad_request(f"{name}: {what}")
    return value
