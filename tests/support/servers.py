"""Throwaway PostgreSQL, MariaDB and Redis servers for the import tests.

Each runs from the machine's Debian packages (``.ci/run`` installs them) in its own temp
directory, on a free loopback port, with no password (trust / skip-grant-tables: nothing but
this test session can reach 127.0.0.1 here), and is stopped and removed after. PostgreSQL and
MariaDB refuse to run as root: as root, their processes run as the packages' ``postgres`` /
``mysql`` users, which own the data directories.

``missing_servers()`` says which binaries are absent, so fixtures can skip (locally) or fail
(``CI=true``) with the reason.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"

START_TIMEOUT_S = 60.0
_PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


@dataclass(frozen=True)
class Server:
    """A running server: where it listens and the URL a client (and the CLI) uses."""

    name: str
    port: int
    url: str


def _which(name: str, extra: list[Path] | None = None) -> str | None:
    for folder in extra or []:
        if (folder / name).exists():
            return str(folder / name)
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def _binaries() -> dict[str, dict[str, str | None]]:
    return {
        "postgresql": {
            "initdb": _which("initdb", _PG_BIN_DIRS),
            "postgres": _which("postgres", _PG_BIN_DIRS),
        },
        "mariadb": {
            "mariadbd": _which("mariadbd") or _which("mysqld"),
            "install": _which("mariadb-install-db") or _which("mysql_install_db"),
        },
        "redis": {"redis-server": _which("redis-server")},
    }


def missing_servers() -> dict[str, str]:
    """Server name -> why it cannot start here (a binary is missing); empty when all can."""
    missing = {}
    for server, binaries in _binaries().items():
        absent = [name for name, path in binaries.items() if path is None]
        if absent:
            missing[server] = (
                f"{', '.join(absent)} not found (apt-get install postgresql mariadb-server "
                f"redis-server, as .ci/run does)"
            )
    return missing


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _as_user(user: str) -> dict[str, Any]:
    """subprocess arguments that run a child as ``user`` when we are root (the servers refuse
    root), with the environment ``runuser -u`` gives; as ourselves otherwise. Not runuser
    itself: told to stop, it passes the signal on, then waits 2 s before it exits."""
    if os.geteuid() != 0:
        return {}
    entry = pwd.getpwnam(user)
    groups = [g.gr_gid for g in grp.getgrall() if user in g.gr_mem]
    env = {**os.environ, "HOME": entry.pw_dir, "USER": user, "LOGNAME": user}
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": groups, "env": env}


def _own(path: Path, user: str) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam(user)
        for folder, _dirs, files in os.walk(path):
            os.chown(folder, entry.pw_uid, entry.pw_gid)
            for name in files:
                os.chown(os.path.join(folder, name), entry.pw_uid, entry.pw_gid)


def _wait_for_port(process: subprocess.Popen[bytes], port: int, log: Path, name: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited ({process.returncode}): {_tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
            return
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{name} did not listen on {port} in {START_TIMEOUT_S:.0f}s: {_tail(log)}")


def _tail(log: Path) -> str:
    try:
        return " | ".join(log.read_text(errors="replace").strip().splitlines()[-5:])
    except OSError:
        return "(no log)"


@contextmanager
def _running(argv: list[str], port: int, log: Path, name: str, **popen: Any) -> Iterator[None]:
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, **popen)
    try:
        _wait_for_port(process, port, log, name)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def _temp_dir(prefix: str, user: str | None) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if user is not None:
        _own(path, user)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def run_postgresql() -> Iterator[Server]:
    """PostgreSQL with a ``sessions`` database, user ``postgres`` trusted on loopback."""
    binaries = _binaries()["postgresql"]
    user = "postgres"
    with _temp_dir("pg-", user) as root:
        data = root / "data"
        subprocess.run(
            [
                str(binaries["initdb"]),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            **_as_user(user),
        )
        port = _free_port()
        argv = [
            str(binaries["postgres"]),
            "-D",
            str(data),
            "-p",
            str(port),
            "-k",
            str(root),
            "-c",
            f"listen_addresses={HOST}",
            "-c",
            "fsync=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "synchronous_commit=off",
        ]
        with _running(argv, port, root / "server.log", "postgres", **_as_user(user)):
            createdb = [
                str(Path(str(binaries["initdb"])).parent / "createdb"),
                "-h",
                HOST,
                "-p",
                str(port),
                "-U",
                "postgres",
                "sessions",
            ]
            _retry_until_ready(
                lambda: subprocess.run(createdb, check=True, capture_output=True, **_as_user(user))
            )
            yield Server("postgresql", port, f"postgresql://postgres@{HOST}:{port}/sessions")


@contextmanager
def run_mariadb() -> Iterator[Server]:
    """MariaDB with a ``sessions`` database; any user may connect (skip-grant-tables)."""
    binaries = _binaries()["mariadb"]
    user = "mysql"
    with _temp_dir("mariadb-", user) as root:
        data = root / "data"
        subprocess.run(
            [
                str(binaries["install"]),
                "--no-defaults",
                f"--datadir={data}",
                f"--user={user if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name}",
                "--skip-test-db",
                "--auth-root-authentication-method=normal",
            ],
            check=True,
            capture_output=True,
        )
        _own(root, user)
        port = _free_port()
        argv = [
            str(binaries["mariadbd"]),
            "--no-defaults",
            f"--datadir={data}",
            f"--port={port}",
            f"--bind-address={HOST}",
            f"--socket={root / 'mysqld.sock'}",
            f"--pid-file={root / 'mysqld.pid'}",
            "--skip-grant-tables",
            "--skip-log-bin",
            "--innodb-buffer-pool-size=32M",
            "--innodb-log-file-size=8M",
            "--innodb-flush-log-at-trx-commit=0",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci",
        ]
        if os.geteuid() == 0:
            argv.append(f"--user={user}")
        with _running(argv, port, root / "server.log", "mariadbd"):
            _retry_until_ready(lambda: _create_mariadb_database(port))
            yield Server("mariadb", port, f"mysql://root@{HOST}:{port}/sessions")


@contextmanager
def run_redis() -> Iterator[Server]:
    """Redis in memory only (no RDB, no AOF)."""
    binary = str(_binaries()["redis"]["redis-server"])
    with _temp_dir("redis-", None) as root:
        port = _free_port()
        argv = [
            binary,
            "--port",
            str(port),
            "--bind",
            HOST,
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(root),
            "--protected-mode",
            "no",
        ]
        with _running(argv, port, root / "server.log", "redis-server"):
            yield Server("redis", port, f"redis://{HOST}:{port}/0")


def _create_mariadb_database(port: int) -> None:
    import pymysql

    connection = pymysql.connect(host=HOST, port=port, user="root", autocommit=True)
    try:
        with connection.cursor() as cursor:
            cursor.execute("CREATE DATABASE IF NOT EXISTS sessions CHARACTER SET utf8mb4")
    finally:
        connection.close()


def _retry_until_ready(action: object, attempts: int = 50) -> None:
    """Servers accept connections a moment before they accept work."""
    assert callable(action)
    for attempt in range(attempts):
        try:
            action()
            return
        except Exception:  # createdb's exit, or the driver's "not ready yet"
            if attempt == attempts - 1:
                raise
            time.sleep(0.2)
