"""A read timeout for aiomysql, which has none: a database that accepted the connection and
then stopped answering would otherwise hang the request, and its pooled connection, for ever.

Not asyncio.timeout around each read: that arms and cancels a timer per packet, microseconds
each, several hundred times per io request, on the measured path. Here the path is untouched.
aiomysql reads through an asyncio.StreamReader; a read short of bytes parks on the reader's
`_waiter` future, which the next bytes to arrive complete (a further wait makes a new one). So
one watchdog task per event loop looks once a second at each connection's pending future:
the same one still pending after DB_READ_TIMEOUT_S means no byte came for that long, and it
closes the connection. The pending read then fails with aiomysql's OperationalError 2013
(Lost connection to MySQL server during query), the request answers 500 and the pool drops
the connection. A stall is cut between DB_READ_TIMEOUT_S and a second later. It covers the
handshake too, which aiomysql's connect_timeout (the TCP connect only) does not.

Connections register when they connect (Connection._connect, once per connection, not per
statement); the first connection on a loop starts that loop's watchdog.
"""

import asyncio
import time
import weakref

import aiomysql

TICK_S = 1.0
_connections: weakref.WeakSet[aiomysql.Connection] = weakref.WeakSet()
_watchdogs: dict[asyncio.AbstractEventLoop, asyncio.Task] = {}


async def _watch(loop: asyncio.AbstractEventLoop, timeout_s: float) -> None:
    first_seen: dict[asyncio.Future, float] = {}
    while True:
        await asyncio.sleep(TICK_S)
        now = time.monotonic()
        pending = {}
        for conn in [c for c in _connections if c._loop is loop]:
            waiter = getattr(conn._reader, "_waiter", None)
            if waiter is not None and not waiter.done():
                pending[waiter] = first_seen.get(waiter, now)
                if now - pending[waiter] >= timeout_s:
                    conn.close()
        first_seen = pending


def install(timeout_s: float) -> None:
    """Put every aiomysql connection opened from now on under its loop's watchdog."""
    connect = aiomysql.Connection._connect

    async def _connect(self: aiomysql.Connection) -> None:
        _connections.add(self)
        loop = asyncio.get_running_loop()
        if loop not in _watchdogs:
            _watchdogs[loop] = loop.create_task(_watch(loop, timeout_s))
            _watchdogs[loop].add_done_callback(lambda _: _watchdogs.pop(loop, None))
        await connect(self)

    aiomysql.Connection._connect = _connect
