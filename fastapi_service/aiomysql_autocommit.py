"""MariaDB only: the aiomysql pool is checked at startup, and the service refuses to serve
unless every pooled connection has autocommit on (aiomysql_engine runs the check).

Why: a pooled connection with autocommit off turns the `SELECT COUNT(*)` that runs
outside `in_transaction()` into the start of a transaction that nobody commits. The pool
cannot notice: aiomysql's Pool.release() closes a connection returned inside a
transaction, but it judges by the server status of the last OK packet, and a SELECT ends
with an EOF packet whose status aiomysql ignores. So after that SELECT the connection
looks idle, goes back to the pool with its transaction open, and keeps its metadata lock
on lab_records and its read view until the next BEGIN on it, or forever once the load
stops: the prototype's TRUNCATE hung, InnoDB's history grew and io throughput fell from
about 50 to about 27 requests/s. Tortoise 1.1.9 opens its pool with autocommit on and
drops any `autocommit` from its config, so the service's pool has it on today; checking
once at startup costs nothing per request and keeps an upgrade, another driver or a
server-side default from bringing the leak back unnoticed.
"""

import aiomysql


async def check(pool: aiomysql.Pool) -> None:
    """Take every connection of the fixed-size pool (opening any not yet open) and raise
    unless all of them have autocommit on."""
    connections = [await pool.acquire() for _ in range(pool.maxsize)]
    try:
        manual = sum(not conn.get_autocommit() for conn in connections)
    finally:
        for conn in connections:
            await pool.release(conn)
    if manual:
        raise RuntimeError(f"{manual} of {len(connections)} pooled connections have autocommit off: "
                           "statements outside in_transaction() would leave transactions open")
