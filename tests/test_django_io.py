"""The io workload on Django under both interfaces: exact body, exact statements, nothing left."""

import httpx
import pytest
from conftest import StatusCounters, bench_record_count, io_dir_files

from lab.io_files import RESPONSE_BODY, STATEMENTS_PER_REQUEST

DJANGO_STACKS = ("django-wsgi", "django-asgi")
IO_PATHS = ("/sync/io/", "/async/io/")
REQUESTS = 5



@pytest.mark.parametrize("stack", DJANGO_STACKS)
@pytest.mark.parametrize("path", IO_PATHS)
def test_io_statements_body_and_cleanup(start_server, database, stack, path):
    url = start_server(stack).url + path
    with httpx.Client() as client, StatusCounters(database) as counters:
        client.post(url)  # the first request may open the persistent connection
        before = counters.read()
        responses = [client.post(url) for _ in range(REQUESTS)]
        after = counters.read()
    delta = {name: after[name] - before[name] for name in before}
    for response in responses:
        assert response.status_code == 200
        assert response.text == RESPONSE_BODY
        assert response.headers["content-type"] == "application/json"
        assert int(response.headers["content-length"]) == len(RESPONSE_BODY)
        assert response.headers["server-timing"].startswith("app;dur=")
    expected = {f"Com_{kind}": n * REQUESTS for kind, n in STATEMENTS_PER_REQUEST.items()}
    # One SELECT of connection set-up per new connection (Django under ASGI: one per request).
    new_connections = delta["Connections"]
    expected["Com_select"] += new_connections
    assert {k: delta[k] for k in expected} == expected
    if stack == "django-asgi":
        assert new_connections == REQUESTS  # CONN_MAX_AGE=0: a connection per request
    else:
        # Persistent, one per Granian blocking thread, opened on a thread's first request.
        assert new_connections <= database.django_wsgi_blocking_threads
    assert bench_record_count(database) == 0
    assert io_dir_files(database) == []


@pytest.mark.parametrize("stack", DJANGO_STACKS)
@pytest.mark.parametrize("path", IO_PATHS)
def test_get_on_io_is_405(start_server, stack, path):
    response = httpx.get(start_server(stack).url + path)
    assert response.status_code == 405
    assert int(response.headers["content-length"]) == len(response.content)
