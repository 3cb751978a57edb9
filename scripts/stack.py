#!/usr/bin/env python3
"""The production topology on one machine, from Debian's packages, without a Docker engine.

    python3 scripts/stack.py up   [--dir var/stack] [--port 8080] [--apps 2]
    python3 scripts/stack.py down [--dir var/stack]
    python3 scripts/stack.py status [--dir var/stack]

``make stack`` / ``make stack-stop`` call it. What it starts, all on loopback (the
same processes as ``compose.yaml``; docs/deployment.md explains each):

- PostgreSQL 15 primary and a streaming-replication standby (synchronous: a commit
  returns once the standby has the WAL), password authentication, a replication slot;
- Redis (Socket.IO message queue and rate-limit counters), with a password;
- ``tgd db upgrade``, then two or more ``tgd run --no-scheduler`` app processes;
- two ``tgd scheduler`` processes (one leads, one stands by: E-06);
- ``tgd fallback``, the separate process the carrier calls when the app does not
  answer (E-05);
- the fake Twilio (``tgd simulate twilio``), which speaks Twilio's real wire format:
  the platform runs with ``twilio.backend = "twilio"`` pointed at it;
- nginx in front of the app processes (sticky by a routing cookie, WebSocket).

The TGD processes are watched by a supervisor process that restarts any that dies
(as systemd's ``Restart=always`` would); PostgreSQL and nginx are daemons of their own,
Redis runs in a session of its own. Secrets are generated once into ``DIR/secrets``
(mode 600). The app connects with a multi-host URL that only accepts the writable server,
so promoting the standby needs no reconfiguration. The tests (``tests/stack``) drive this very
module: what they prove is what ``make stack`` runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG_BIN = (
    Path(sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1])
    if Path("/usr/lib/postgresql").is_dir() and list(Path("/usr/lib/postgresql").glob("*/bin"))
    else Path("/usr/bin")
)
IS_ROOT = os.geteuid() == 0
ACCOUNT_SID = "AC" + "0" * 31 + "1"


def free_port(taken: set[int] | None = None) -> int:
    """Return a free TCP port on loopback, not one of ``taken`` (which it joins)."""
    taken = set() if taken is None else taken
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in taken:
            taken.add(port)
            return port


@dataclass
class Ports:
    """Every port of the stack (all on 127.0.0.1)."""

    http: int
    apps: list[int]
    pg_primary: int
    pg_standby: int
    redis: int
    fallback: int
    twilio: int

    @classmethod
    def free(cls, apps: int, http: int | None = None) -> Ports:
        """Pick free ports (tests), or the given HTTP port; no two alike."""
        taken = {http} if http else set()
        return cls(
            http=http or free_port(taken),
            apps=[free_port(taken) for _ in range(apps)],
            pg_primary=free_port(taken),
            pg_standby=free_port(taken),
            redis=free_port(taken),
            fallback=free_port(taken),
            twilio=free_port(taken),
        )

    def all(self) -> set[int]:
        """Every port of the stack."""
        return {self.http, *self.apps, self.pg_primary, self.pg_standby, self.redis,
                self.fallback, self.twilio}  # fmt: skip


@dataclass
class Service:
    """A TGD process the supervisor keeps running."""

    name: str
    argv: list[str]
    pid: int = 0
    restarts: int = 0


@dataclass
class State:
    """What ``up`` started, kept in ``DIR/stack.json`` for ``down`` and ``status``."""

    directory: str
    ports: Ports
    services: dict[str, Service] = field(default_factory=dict)
    supervisor_pid: int = 0
    redis_pid: int = 0
    nginx_pid: int = 0

    def save(self) -> None:
        path = Path(self.directory) / "stack.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(path)

    @classmethod
    def load(cls, directory: Path) -> State:
        raw = json.loads((directory / "stack.json").read_text())
        raw["ports"] = Ports(**raw["ports"])
        raw["services"] = {k: Service(**v) for k, v in raw["services"].items()}
        return cls(**raw)


class Stack:
    """One machine's TGD topology in ``directory``."""

    def __init__(
        self,
        directory: Path,
        ports: Ports,
        *,
        tgd: str | None = None,
        extra_env: dict[str, str] | None = None,
        lease_seconds: int = 15,
    ) -> None:
        self.dir = directory.resolve()
        self.ports = ports
        self.tgd = tgd or str(Path(sys.executable).with_name("tgd"))
        self.extra_env = extra_env or {}
        self.lease_seconds = lease_seconds
        self.logs = self.dir / "logs"
        self.secrets = self.dir / "secrets"
        self.data = self.dir / "data"
        self.children: list[subprocess.Popen[bytes]] = []  # reaped by down()

    # --- paths and secrets ----------------------------------------------------------------

    @property
    def url(self) -> str:
        """The public address (nginx)."""
        return f"http://127.0.0.1:{self.ports.http}"

    @property
    def fallback_url(self) -> str:
        """The carrier's Fallback URL (the fallback process, apart from nginx and the apps)."""
        return f"http://127.0.0.1:{self.ports.fallback}/voice"

    def _secret(self, name: str, length: int = 32) -> str:
        path = self.secrets / name
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(length))
        return path.read_text().strip()

    def database_url(self) -> str:
        """The multi-host URL: libpq tries each host and keeps the one that takes writes."""
        password = self._secret("pg_password", 24)
        p = self.ports
        return (
            f"postgresql+psycopg://tgd:{password}@/tgd?host=127.0.0.1:{p.pg_primary}"
            f"&host=127.0.0.1:{p.pg_standby}&target_session_attrs=read-write"
            "&connect_timeout=3&application_name=tgd"
        )

    def redis_url(self) -> str:
        return f"redis://:{self._secret('redis_password', 24)}@127.0.0.1:{self.ports.redis}/0"

    def env(self) -> dict[str, str]:
        """The environment of every TGD process of the stack (production mode)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("TGD_")}
        env.update(
            TGD_MODE="production",
            TGD_DATA_DIR=str(self.data),
            TGD_DATABASE_URL_FILE=str(self.secrets / "database_url"),
            TGD_SECRET_KEY_FILE=str(self.secrets / "secret_key"),
            TGD_MASTER_KEY_FILE=str(self.secrets / "master.key"),
            TGD_REDIS_URL_FILE=str(self.secrets / "redis_url"),
            TGD_PUBLIC_BASE_URL=self.url,
            TGD_TWILIO_BACKEND="twilio",
            TGD_TWILIO_ACCOUNT_SID=ACCOUNT_SID,
            TGD_TWILIO_AUTH_TOKEN_FILE=str(self.secrets / "twilio_auth_token"),
            TGD_TWILIO_API_BASE_URL=f"http://127.0.0.1:{self.ports.twilio}",
            TGD_SERVER_TRUSTED_PROXIES="127.0.0.1",
            TGD_SERVER_LOG_FORMAT="json",
            TGD_SERVER_FALLBACK_URL=self.fallback_url,
        )
        env.update(self.extra_env)
        return env

    def auth_token(self) -> str:
        return (self.secrets / "twilio_auth_token").read_text().strip()

    # --- up -------------------------------------------------------------------------------

    def up(self, *, supervise: bool = True) -> State:
        """Start the whole topology; return when every process answers."""
        for d in (self.dir, self.logs, self.secrets, self.data):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(self.secrets, 0o700)
        os.chmod(self.dir, 0o711)  # noqa: S103 - PostgreSQL's user must reach (not list) its data directories
        self._write_secrets()
        state = State(str(self.dir), self.ports)
        state.save()
        self._start_postgres()
        state.redis_pid = self._start_redis(may_move=True)
        state.save()
        self._run_tgd("db", "upgrade")
        state.services = self._services()
        for service in state.services.values():
            service.pid = self._spawn(service)
        state.save()
        self._wait_http(f"http://127.0.0.1:{self.ports.fallback}/healthz", "fallback")
        for port in self.ports.apps:
            self._wait_http(f"http://127.0.0.1:{port}/healthz", f"app on {port}")
        state.nginx_pid = self._start_nginx()
        state.save()
        if supervise:
            state.supervisor_pid = self._spawn_supervisor()
            state.save()
        self._wait_http(self.url + "/readyz", "readiness behind nginx", deadline=180)
        return state

    def _write_secrets(self) -> None:
        self._secret("secret_key", 32)
        self._secret("twilio_auth_token", 16)
        self._secret("pg_password", 24)
        self._secret("replication_password", 24)
        self._secret("redis_password", 24)
        self._write_urls()
        if not (self.secrets / "master.key").exists():
            self._run_tgd("keys", "init")

    def _write_urls(self) -> None:
        """The database's and Redis's addresses, as the TGD processes read them."""
        for name, value in (("database_url", self.database_url()), ("redis_url", self.redis_url())):
            path = self.secrets / name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(value)

    def _services(self) -> dict[str, Service]:
        services: dict[str, Service] = {}
        for index, port in enumerate(self.ports.apps, start=1):
            services[f"app{index}"] = Service(
                f"app{index}",
                [self.tgd, "run", "--no-scheduler", "--host", "127.0.0.1", "--port", str(port)],
            )
        for index in (1, 2):
            services[f"scheduler{index}"] = Service(
                f"scheduler{index}",
                [self.tgd, "scheduler", "--lease-seconds", str(self.lease_seconds)],
            )
        services["fallback"] = Service(
            "fallback",
            [self.tgd, "fallback", "--host", "127.0.0.1", "--port", str(self.ports.fallback)],
        )
        services["twilio"] = Service(
            "twilio", [self.tgd, "simulate", "twilio", "--port", str(self.ports.twilio)]
        )
        return services

    def _spawn(self, service: Service) -> int:
        log = (self.logs / f"{service.name}.log").open("ab")
        process = subprocess.Popen(
            service.argv,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as a whole
            cwd=self.dir,
        )
        log.close()
        self.children.append(process)
        return process.pid

    def _spawn_supervisor(self) -> int:
        log = (self.logs / "supervisor.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "supervise", "--dir", str(self.dir)],
            env={k: v for k, v in os.environ.items() if not k.startswith("TGD_")},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.children.append(process)
        return process.pid

    def _run_tgd(self, *args: str) -> str:
        done = subprocess.run(
            [self.tgd, *args], env=self.env(), capture_output=True, text=True, timeout=300
        )
        if done.returncode != 0:
            raise RuntimeError(f"tgd {' '.join(args)} failed: {done.stdout}{done.stderr}")
        return done.stdout

    def _wait_http(self, url: str, what: str, *, deadline: float = 120) -> None:
        end = time.monotonic() + deadline
        last = ""
        while time.monotonic() < end:
            try:
                with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except OSError as exc:
                last = str(exc)
            time.sleep(0.3)
        raise RuntimeError(f"{what} did not answer {url} within {deadline:.0f} s ({last})")

    # --- PostgreSQL: primary and standby --------------------------------------------------

    def _pg(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        run = ["runuser", "-u", "postgres", "--"] if IS_ROOT else []
        env = dict(os.environ)
        env["PGPASSWORD"] = self._secret("replication_password", 24)
        done = subprocess.run(
            [*run, *argv], env=env, capture_output=True, text=True, check=False, timeout=300
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"{Path(argv[0]).name} failed: {done.stdout}{done.stderr}")
        return done

    def pg_dir(self, role: str) -> Path:
        return self.dir / f"pg-{role}"

    def pg_options(self, role: str) -> str:
        """Server settings on the command line, so primary and standby never share them."""
        port = self.ports.pg_primary if role == "primary" else self.ports.pg_standby
        options = [
            "listen_addresses=127.0.0.1",
            f"port={port}",
            f"unix_socket_directories={self.pg_dir(role)}",
            "max_connections=300",
            "wal_level=replica",
            "max_wal_senders=5",
            "max_replication_slots=5",
            "hot_standby=on",
            "synchronous_commit=on",  # E-01
            "wal_log_hints=on",  # pg_rewind can turn a failed primary into a standby
            "password_encryption=scram-sha-256",
        ]
        return " ".join(f"-c {option}" for option in options)

    def _start_postgres(self) -> None:
        primary, standby = self.pg_dir("primary"), self.pg_dir("standby")
        if not (primary / "data" / "PG_VERSION").exists():
            primary.mkdir(parents=True, exist_ok=True)
            pwfile = primary / "pwfile"
            pwfile.write_text(self._secret("pg_password", 24) + "\n")
            if IS_ROOT:
                shutil.chown(primary, "postgres", "postgres")
                shutil.chown(pwfile, "postgres", "postgres")
            os.chmod(pwfile, 0o600)
            self._pg(
                str(PG_BIN / "initdb"), "-D", str(primary / "data"), "-U", "tgd",
                f"--pwfile={pwfile}", "--auth-local=scram-sha-256",
                "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
            )  # fmt: skip
            pwfile.unlink()
            with (primary / "data" / "pg_hba.conf").open("a") as hba:
                hba.write("host replication replicator 127.0.0.1/32 scram-sha-256\n")
            self.pg_ctl("primary", "start")
            replication = self._secret("replication_password", 24)
            self._psql(
                "primary",
                f"CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD '{replication}'",
            )
            self._psql("primary", "CREATE DATABASE tgd OWNER tgd", database="postgres")
        else:
            self.pg_ctl("primary", "start")
        if not (standby / "data" / "PG_VERSION").exists():
            standby.mkdir(parents=True, exist_ok=True)
            if IS_ROOT:
                shutil.chown(standby, "postgres", "postgres")
            self._pg(
                str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p",
                str(self.ports.pg_primary), "-U", "replicator", "-D", str(standby / "data"),
                "-X", "stream", "-C", "-S", "tgd_standby", "-R", "--checkpoint=fast",
            )  # fmt: skip
            self.write_primary_conninfo()
        self.pg_ctl("standby", "start")
        # A commit returns once the standby has flushed its WAL: promoting it loses no
        # committed alert (a lost standby stalls commits: docs/deployment.md). Set after
        # the set-up, in the primary's own postgresql.auto.conf, which the standby's copy
        # predates: a promoted standby never waits for a standby it does not have.
        if self._psql("primary", "SHOW synchronous_standby_names") != "tgd_standby":
            self._psql("primary", "ALTER SYSTEM SET synchronous_standby_names = 'tgd_standby'")
            self._psql("primary", "SELECT pg_reload_conf()")

    def write_primary_conninfo(self) -> None:
        """Name the standby (``tgd_standby``) so that the primary waits for it."""
        replication = self._secret("replication_password", 24)
        auto = self.pg_dir("standby") / "data" / "postgresql.auto.conf"
        text = auto.read_text() if auto.exists() else ""
        text += (
            f"primary_conninfo = 'host=127.0.0.1 port={self.ports.pg_primary} user=replicator "
            f"password={replication} application_name=tgd_standby'\n"
            "primary_slot_name = 'tgd_standby'\n"
        )
        auto.write_text(text)
        if IS_ROOT:
            shutil.chown(auto, "postgres", "postgres")
        os.chmod(auto, 0o600)

    def pg_ctl(self, role: str, action: str, *, mode: str = "fast") -> None:
        """Start, stop or restart one server (``pg_ctl``), or promote the standby."""
        data = self.pg_dir(role) / "data"
        log = self.pg_dir(role) / "server.log"
        argv = [str(PG_BIN / "pg_ctl"), "-D", str(data), "-w", "-t", "120"]
        if action in ("start", "restart"):
            argv += ["-l", str(log), "-o", self.pg_options(role)]
        if action in ("stop", "restart"):
            argv += ["-m", mode]
        done = self._pg(*argv, action, check=False)
        if done.returncode != 0 and not (action == "stop" and "not running" in done.stderr):
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"pg_ctl {action} {role} failed: {done.stderr}\n{tail}")

    def _psql(self, role: str, sql: str, *, database: str = "postgres") -> str:
        port = self.ports.pg_primary if role == "primary" else self.ports.pg_standby
        env = dict(os.environ, PGPASSWORD=self._secret("pg_password", 24))
        done = subprocess.run(
            [str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "tgd",
             "-d", database, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"psql on {role} failed: {done.stderr}")
        return done.stdout.strip()

    def sql(self, role: str, query: str) -> str:
        """Run one query on a server (``primary`` or ``standby``) and return its text."""
        return self._psql(role, query, database="tgd")

    # --- Redis and nginx ------------------------------------------------------------------

    def _start_redis(self, *, may_move: bool = False) -> int:
        """Start Redis and return its pid once it answers.

        With ``may_move`` (at ``up``, before any TGD process has read its address), a Redis
        that exits at once (its port was taken since it was picked) starts again on another.
        """
        attempts = 3 if may_move else 1
        for attempt in range(1, attempts + 1):
            process = self._spawn_redis()
            if self._wait_redis(process):
                return process.pid
            if process.poll() is None:  # running and not answering: another port would not help
                process.kill()
                break
            if attempt < attempts:
                self.ports.redis = free_port(self.ports.all())
                self._write_urls()
        log = self.logs / "redis.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
        raise RuntimeError(f"redis did not answer on port {self.ports.redis}; its log:\n{tail}")

    def _spawn_redis(self) -> subprocess.Popen[bytes]:
        directory = self.dir / "redis"
        directory.mkdir(exist_ok=True)
        conf = directory / "redis.conf"
        log = self.logs / "redis.log"
        conf.write_text(
            f"bind 127.0.0.1\nport {self.ports.redis}\ndir {directory}\nlogfile {log}\n"
            f"requirepass {self._secret('redis_password', 24)}\n"
            'save ""\nappendonly no\nprotected-mode yes\ndaemonize no\n'
        )
        os.chmod(conf, 0o600)
        with log.open("ab") as output:  # what it says before it reads its logfile line
            process = subprocess.Popen(
                ["redis-server", str(conf)],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives `stack.py up`, like the TGD processes
                cwd=directory,
            )
        self.children.append(process)
        return process

    def _wait_redis(self, process: subprocess.Popen[bytes], *, deadline: float = 30) -> bool:
        """Wait until Redis answers; False at once if it exits, or after ``deadline``."""
        end = time.monotonic() + deadline
        while time.monotonic() < end and process.poll() is None:
            if self._redis_ping():
                return True
            time.sleep(0.1)
        return False

    def start_redis(self) -> None:
        """Start Redis again (after a drill killed it)."""
        state = State.load(self.dir)
        state.redis_pid = self._start_redis()
        state.save()

    def _redis_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.ports.redis), timeout=1) as conn:
                password = self._secret("redis_password", 24)
                conn.sendall(f"AUTH {password}\r\nPING\r\n".encode())
                answer = b""
                while b"PONG" not in answer:
                    chunk = conn.recv(64)
                    if not chunk or b"-" in chunk[:1]:
                        return False
                    answer += chunk
                return True
        except OSError:
            return False

    def nginx_conf(self) -> str:
        """The nginx configuration (loopback, sticky by cookie, WebSocket)."""
        nginx_dir = self.dir / "nginx"
        return render_nginx(
            nginx_dir=str(nginx_dir),
            log_dir=str(self.logs),
            listen=f"127.0.0.1:{self.ports.http}",
            apps=[f"127.0.0.1:{port}" for port in self.ports.apps],
            fallback=f"127.0.0.1:{self.ports.fallback}",
            daemon=True,
        )

    def _start_nginx(self) -> int:
        nginx_dir = self.dir / "nginx"
        (nginx_dir / "tmp").mkdir(parents=True, exist_ok=True)
        conf = nginx_dir / "nginx.conf"
        conf.write_text(self.nginx_conf())
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        subprocess.run([nginx, "-t", "-q", "-c", str(conf), "-p", str(nginx_dir)], check=True)
        subprocess.run([nginx, "-c", str(conf), "-p", str(nginx_dir)], check=True, timeout=60)
        pid_file = nginx_dir / "nginx.pid"
        end = time.monotonic() + 30
        while time.monotonic() < end and not pid_file.exists():
            time.sleep(0.1)
        return int(pid_file.read_text().strip())

    # --- supervision ----------------------------------------------------------------------

    def supervise_forever(self) -> None:
        """Restart any TGD process that dies, until SIGTERM."""
        stopping = False

        def _stop(_signum: int, _frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        while not stopping:
            state = State.load(self.dir)
            changed = False
            for service in state.services.values():
                if _reap(service.pid):
                    print(f"supervisor: {service.name} (pid {service.pid}) ended; restarting",
                          flush=True)  # fmt: skip
                    time.sleep(1)
                    service.pid = self._spawn(service)
                    service.restarts += 1
                    changed = True
            if changed:
                state.save()
            time.sleep(0.5)

    # --- down -----------------------------------------------------------------------------

    def down(self) -> None:
        """Stop everything ``up`` started (the data stays in the directory)."""
        try:
            state = State.load(self.dir)
        except FileNotFoundError:
            return
        # The supervisor first (it would restart the others), then everything at once.
        _terminate(state.supervisor_pid, group=False)
        targets = [(state.nginx_pid, False), (state.redis_pid, False)]
        targets += [(service.pid, True) for service in state.services.values()]
        for pid, group in targets:
            _signal(pid, signal.SIGTERM, group=group)
        end = time.monotonic() + 20
        while time.monotonic() < end and not all(_reap(pid) for pid, _ in targets):
            time.sleep(0.1)
        for pid, group in targets:
            if not _reap(pid):  # only what is still ours and still running
                _signal(pid, signal.SIGKILL, group=group)
        for role in ("standby", "primary"):
            if (self.pg_dir(role) / "data" / "postmaster.pid").exists():
                self.pg_ctl(role, "stop", mode="fast")
        for child in self.children:  # the processes this object started (killed or stopped)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=5)


def render_nginx(
    *, nginx_dir: str, log_dir: str, listen: str, apps: list[str], fallback: str, daemon: bool
) -> str:
    """Fill deploy/nginx.conf.template (make stack; deploy/nginx.compose.conf for compose)."""
    template = (ROOT / "deploy" / "nginx.conf.template").read_text()
    upstreams = "\n".join(
        f"        server {address} max_fails=1 fail_timeout=5s;" for address in apps
    )
    error_log = "stderr" if log_dir == "stderr" else f"{log_dir}/nginx-error.log"
    return (
        template.replace("@NGINX_DIR@", nginx_dir)
        .replace("@ERROR_LOG@", error_log)
        .replace("@DAEMON@", "on" if daemon else "off")
        .replace("@LISTEN@", listen)
        .replace("@UPSTREAMS@", upstreams)
        .replace("@FALLBACK@", fallback)
    )


def _reap(pid: int) -> bool:
    """Tell whether a process has ended (reaping it if it is our child)."""
    if pid <= 0:
        return True
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return True
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # a zombie that is not our child still answers kill(0)
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1].startswith("Z")
    except OSError:
        return True


def _signal(pid: int, signum: int, *, group: bool) -> None:
    """Send a signal to a process (or its group) if it is still there."""
    if pid <= 0:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        (os.killpg if group else os.kill)(pid, signum)


def _terminate(pid: int, *, group: bool, timeout: float = 20) -> None:
    """SIGTERM a process (or its group), then SIGKILL what is left after ``timeout``."""
    if pid <= 0:
        return
    kill = os.killpg if group else os.kill
    try:
        kill(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if _reap(pid):
            break
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        kill(pid, signal.SIGKILL)


def main() -> None:
    """Command line: up, down, status, supervise."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "down", "status", "supervise"])
    parser.add_argument("--dir", default=str(ROOT / "var" / "stack"))
    parser.add_argument("--port", type=int, default=8080, help="nginx's port (loopback)")
    parser.add_argument("--apps", type=int, default=2, help="app processes (2 or more)")
    args = parser.parse_args()
    directory = Path(args.dir).resolve()
    if args.command == "up":
        if (directory / "stack.json").exists():
            try:
                Stack(directory, State.load(directory).ports).down()
            except Exception as exc:  # a stale state from a crashed run
                print(f"previous stack not stopped cleanly: {exc}", file=sys.stderr)
            ports = State.load(directory).ports
            ports.http = args.port
        else:
            ports = Ports.free(max(args.apps, 2), http=args.port)
        stack = Stack(directory, ports, tgd=str(ROOT / ".venv" / "bin" / "tgd"))
        stack.up()
        print(f"TGD stack up: {stack.url} (readyz {stack.url}/readyz)")
        print(f"  apps on {', '.join(map(str, ports.apps))}; metrics: /metrics on each app port")
        print(f"  carrier Fallback URL: {stack.fallback_url}; fake Twilio on {ports.twilio}")
        print(f"  PostgreSQL primary {ports.pg_primary}, standby {ports.pg_standby}; "
              f"Redis {ports.redis}; logs in {stack.logs}")  # fmt: skip
        print("  first account: TGD_CONFIG-less env in "
              f"{directory}/env; tgd user create --role administrator …")  # fmt: skip
        (directory / "env").write_text(
            "".join(f"export {k}={v}\n" for k, v in stack.env().items() if k.startswith("TGD_"))
        )
    elif args.command == "down":
        if not (directory / "stack.json").exists():
            print("no stack running here")
            return
        Stack(directory, State.load(directory).ports).down()
        print("TGD stack stopped (data kept in", directory, ")")
    elif args.command == "supervise":
        Stack(directory, State.load(directory).ports).supervise_forever()
    else:
        state = State.load(directory)
        for service in state.services.values():
            alive = "up" if not _reap(service.pid) else "DOWN"
            print(f"{service.name:<11} pid {service.pid:<7} {alive} restarts {service.restarts}")


if __name__ == "__main__":
    main()
