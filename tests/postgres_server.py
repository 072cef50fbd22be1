"""A throw-away PostgreSQL server for the tests, so the store can be tested on a real PostgreSQL, not a
stand-in, and every test can have an empty database of its own::

    with postgres_for_tests() as server:
        url = server.new_database()  # postgresql://newsletter@127.0.0.1:PORT/test_...

The cluster is Debian's PostgreSQL (`/usr/lib/postgresql/<version>/bin`, the newest, else `initdb` on
the PATH), made with `initdb` in a fresh temporary folder and started with `pg_ctl` on a free port of
127.0.0.1, with durability off (fsync, synchronous commit, full-page writes): nothing in it outlives the
session, so nothing needs to survive a crash, and a start takes about a second. It trusts every local
connection; its only role is `newsletter`, the superuser. `CREATE DATABASE` copies `template1`, which
is cheaper than dropping tables between tests. At the end, `pg_ctl -m immediate stop` and the folder goes.

PostgreSQL refuses to run as root, and the tests run as root in CI: then `initdb` and `pg_ctl` run as
the `postgres` user (which Debian's package creates), else `nobody`, and the folder is theirs.

`NEWSLETTER_TEST_POSTGRES`, the URL of a server already running (e.g.
`postgresql://newsletter@127.0.0.1:5432/`, a superuser or a role that may create databases), is used
instead of starting one; the databases made in it are dropped at the end.

Without PostgreSQL the tests that need it skip, unless CI is set: then they fail, so CI cannot pass by
skipping (`.ci/run` installs Debian's `postgresql`).
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from tests.ci import need

if TYPE_CHECKING:
    import psycopg

URL_VARIABLE = "NEWSLETTER_TEST_POSTGRES"
HOST = "127.0.0.1"
ROLE = "newsletter"
BINARIES = ("initdb", "pg_ctl", "postgres")
# Nothing in the cluster outlives the session, so nothing needs to be durable.
SETTINGS = {
    "listen_addresses": HOST,
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}
START_TIMEOUT = 30  # seconds, pg_ctl -w -t; a start takes about a second, this only bounds a failure
COMMAND_TIMEOUT = 60  # seconds, for any one initdb or pg_ctl
PORT_ATTEMPTS = 3


class PostgresError(RuntimeError):
    """initdb or pg_ctl failed; the message has their output and the server's log."""


def find_bin_dir() -> Path | None:
    """The folder of initdb, pg_ctl and postgres: Debian's newest version, else initdb's on the PATH
    (resolved, since pg_ctl finds postgres beside itself), else None."""

    def version(bin_dir: str) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", Path(bin_dir).parent.name))

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).resolve().parent))
    for candidate in candidates:
        if all(os.access(Path(candidate, name), os.X_OK) for name in BINARIES):
            return Path(candidate)
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


class PostgresServer:
    """A PostgreSQL server to make empty databases in: a cluster started by `start()`, or a server
    already running (`existing()`). `url` is the server's (`postgresql://newsletter@127.0.0.1:PORT/`);
    `stop()` stops the cluster and removes its folder, or drops the databases made in a running server."""

    def __init__(
        self,
        url: str,
        *,
        root: Path | None = None,
        bin_dir: Path | None = None,
        owner: tuple[int, int] | None = None,
    ) -> None:
        self.url = url
        self.root = root  # the cluster's folder, None for a server this did not start
        self.bin_dir = bin_dir
        self.owner = owner  # who runs initdb and pg_ctl, (uid, gid); None: this process's user
        self.created: list[str] = []
        self._admin: psycopg.Connection[Any] | None = None

    @classmethod
    def existing(cls, url: str) -> PostgresServer:
        return cls(url)

    @classmethod
    def start(cls, bin_dir: Path) -> PostgresServer:
        runner = unprivileged_user()
        root = Path(tempfile.mkdtemp(prefix="newsletter-postgres-"))
        server = cls("", root=root, bin_dir=bin_dir, owner=runner)
        try:
            server._start()
        except BaseException:
            server.stop()
            raise
        return server

    def _start(self) -> None:
        assert self.root is not None
        if self.owner is not None:
            os.chown(self.root, *self.owner)
        data = self.root / "data"
        self._run(
            "initdb", "-D", str(data), "-A", "trust", "-U", ROLE, "--locale=C", "-E", "UTF8", "--no-sync"
        )
        settings = " ".join(f"-c {name}={value}" for name, value in SETTINGS.items())
        # The free port is free when probed, not necessarily when postgres binds it: another process
        # (another test session) may take it in between, so a port taken means another try.
        for attempt in range(PORT_ATTEMPTS):
            port = free_port()
            # pg_ctl runs postgres through the shell, so the socket folder is quoted for it.
            options = f"-F -p {port} -k {shlex.quote(str(self.root))} {settings}"
            start = ["-D", str(data), "-l", str(self.log), "-w", "-t", str(START_TIMEOUT), "-o", options]
            try:
                self._run("pg_ctl", *start, "start")
                break
            except PostgresError as error:
                if "Address already in use" not in str(error) or attempt == PORT_ATTEMPTS - 1:
                    raise
        self.url = f"postgresql://{ROLE}@{HOST}:{port}/"

    @property
    def log(self) -> Path:
        assert self.root is not None
        return self.root / "server.log"

    def _run(self, program: str, *args: str) -> None:
        assert self.bin_dir is not None and self.root is not None
        command = [str(self.bin_dir / program), *args]
        user, group = self.owner or (None, None)
        # PG* variables (PGDATA, PGPORT, ...) would otherwise change what initdb and pg_ctl do.
        env = {name: value for name, value in os.environ.items() if not name.startswith("PG")}
        done = subprocess.run(
            command,
            user=user,
            group=group,
            extra_groups=None if user is None else [],
            cwd=self.root,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        if done.returncode != 0:
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            raise PostgresError(
                f"{shlex.join(command)} exited with {done.returncode}:\n{done.stdout}{done.stderr}"
                + (f"\nserver log:\n{log}" if log else "")
            )

    @property
    def admin_database(self) -> str:
        """The database to connect to for CREATE DATABASE: the URL's, else `postgres` (initdb makes no
        database for the role, so the URL without one would not connect)."""
        return unquote(urlsplit(self.url).path.lstrip("/")) or "postgres"

    def database_url(self, name: str) -> str:
        return urlsplit(self.url)._replace(path="/" + quote(name, safe="")).geturl()

    def new_database(self, name: str | None = None) -> str:
        """CREATE DATABASE `name` (by default a new unique one), empty; its URL."""
        from psycopg import sql

        name = name or f"test_{uuid.uuid4().hex[:16]}"
        self.admin().execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self.created.append(name)
        return self.database_url(name)

    def admin(self) -> psycopg.Connection[Any]:
        """One autocommit connection for CREATE DATABASE (it cannot run in a transaction), kept open:
        a connection per database would cost more than the database."""
        import psycopg

        if self._admin is None or self._admin.closed:
            self._admin = psycopg.connect(self.url, dbname=self.admin_database, autocommit=True)
        return self._admin

    def stop(self) -> None:
        try:
            if self.root is None and self.created:
                from psycopg import sql

                for name in self.created:
                    query = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                    self.admin().execute(query)
                self.created.clear()
        finally:
            if self._admin is not None:
                self._admin.close()
                self._admin = None
            if self.root is not None:
                try:
                    if (self.root / "data" / "postmaster.pid").exists():
                        self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
                finally:
                    shutil.rmtree(self.root, ignore_errors=True)


def unprivileged_user() -> tuple[int, int] | None:
    """Who runs initdb and pg_ctl, as (uid, gid): as root, `postgres` (else `nobody`), since PostgreSQL
    refuses to run as root; otherwise None, the tests' own user."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return entry.pw_uid, entry.pw_gid
    raise PostgresError(
        "running as root, and there is neither a postgres nor a nobody user to run PostgreSQL"
    )


@contextmanager
def postgres_for_tests() -> Iterator[PostgresServer]:
    """The server for a test session: `NEWSLETTER_TEST_POSTGRES`'s if it is set, else a throw-away
    cluster; without PostgreSQL, skips (fails when CI is set)."""
    url = os.environ.get(URL_VARIABLE, "").strip()
    if url:
        server = PostgresServer.existing(url)
    else:
        bin_dir = find_bin_dir()
        if bin_dir is None:
            need(
                "PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin or on the PATH)",
                "postgresql",
            )
        server = PostgresServer.start(bin_dir)
    try:
        yield server
    finally:
        server.stop()
