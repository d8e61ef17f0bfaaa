"""The endpoint table (bench/endpoints.py): every id the lab names is a row, and both apps
route every row's path. Read from the sources: no server, no database."""

from __future__ import annotations

import re

from bench.endpoints import ENDPOINTS, Body, Endpoint
from bench.profiles import ANY_ENDPOINT, PROFILES
from bench.schema import ENDPOINT_PATHS
from lab.config import ROOT
from lab.stacks import STACKS


def test_the_enum_and_the_paths_are_the_tables_rows_in_order():
    assert [e.value for e in Endpoint] == list(ENDPOINTS)
    assert Endpoint.SYNC_IO == "sync-io" and ENDPOINTS[Endpoint.SYNC_IO].title == "POST /sync/io/"
    assert ENDPOINT_PATHS == {Endpoint(e.id): (e.method, e.path) for e in ENDPOINTS.values()}
    assert len({e.path for e in ENDPOINTS.values()}) == len(ENDPOINTS)


def test_io_endpoints_are_posts_on_the_database():
    for entry in ENDPOINTS.values():
        assert entry.description and "\n" not in entry.description
        if entry.body == Body.IO:
            assert entry.io and entry.method == "POST" and entry.database and entry.content_type == "application/json"
        else:
            assert not entry.io and entry.method == "GET"


def test_profiles_and_stacks_name_only_endpoints_of_the_table():
    for profile in PROFILES.values():
        named = {*profile.levels, *profile.endpoint_repeats, *profile.ab_endpoints, *profile.endpoints}
        assert named - {ANY_ENDPOINT} <= set(ENDPOINTS), profile.name
    for stack in STACKS.values():
        assert set(stack.endpoints) <= set(ENDPOINTS), stack.id


def test_every_stack_of_the_table_is_a_stack_and_its_limits_are_settings():
    for entry in ENDPOINTS.values():
        for stack, limit in entry.in_flight.items():
            assert stack in STACKS
            assert limit.setting.isupper() and (limit.workers is None or limit.workers.isupper())


def test_both_apps_route_every_path_of_the_table():
    django = (ROOT / "project" / "project" / "urls.py").read_text()
    fastapi = "".join(p.read_text() for p in (ROOT / "fastapi_service").glob("routes_*.py"))
    for entry in ENDPOINTS.values():
        assert f'path("{entry.path.lstrip("/")}",' in django, entry.id
        assert re.search(rf'@router\.{entry.method.lower()}\("{re.escape(entry.path)}"\)', fastapi), entry.id
