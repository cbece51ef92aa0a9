"""What asyncpg raises while PostgreSQL is down, restarting or shutting down.

Those are an outage to wait out or to answer 503 for, not a bug: callers catch
this tuple, and every other database error stays an error.
"""

from __future__ import annotations

import asyncpg

DATABASE_DOWN: tuple[type[Exception], ...] = (
    OSError,  # connection refused or reset; TimeoutError (pool acquire, command timeout) is one too
    asyncpg.InterfaceError,  # "connection is closed", ConnectionDoesNotExistError
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.CannotConnectNowError,  # "the database system is starting up / shutting down"
    asyncpg.AdminShutdownError,  # "terminating connection due to administrator command"
)
