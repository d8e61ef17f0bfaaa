"""The users page, ordered by id: FastAPI's sync path (a plain `def` in the thread pool,
sync_db) and its async path (Tortoise), one Jinja2 template for both.

`?limit=` is read raw and checked by lab.limit_param, so a bad value is the same 400 with
the same reason as on Django, never FastAPI's 422.
"""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from jinja2 import Environment, FileSystemLoader

from fastapi_service import sync_db
from fastapi_service.config import TEMPLATES_DIR
from fastapi_service.models import User
from lab.limit_param import LimitError, parse_limit

router = APIRouter()
_page = Environment(loader=FileSystemLoader(TEMPLATES_DIR), autoescape=True,
                    keep_trailing_newline=True).get_template("users.html")
_USERS_SQL = ("SELECT id, first_name, last_name, email, gender, ip_address, date_joined "
              "FROM lab_users ORDER BY id LIMIT %s")


def _bad_limit(error: LimitError) -> Response:
    return PlainTextResponse(str(error), status_code=400)


@router.get("/sync/")
def users_sync(request: Request) -> Response:
    try:
        limit = parse_limit(request.query_params.get("limit"))
    except LimitError as error:
        return _bad_limit(error)
    with sync_db.cursor(dict_rows=True) as cur:
        cur.execute(_USERS_SQL, (limit,))
        users = cur.fetchall()
    return HTMLResponse(_page.render(users=users))


@router.get("/async/")
async def users_async(request: Request) -> Response:
    try:
        limit = parse_limit(request.query_params.get("limit"))
    except LimitError as error:
        return _bad_limit(error)
    users = await User.all().order_by("id").limit(limit)
    return HTMLResponse(_page.render(users=users))
