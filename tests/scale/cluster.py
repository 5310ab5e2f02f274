"""A scaled-out HeatDesk for tests: two Rasa servers and two action servers behind nginx.

Built from the same Procfile as `make run` (through `tests.stack.Stack`), with

* a Redis server of its own (`RedisServer`: free loopback port, no persistence, files in a
  temp dir), so that the fault tests can kill and restart it without touching the machine's
  shared Redis;
* Debian's nginx as a child process (`Nginx`: generated config under var/, never the system
  service) with an `upstream` for the Rasa servers, one for their socket.io endpoint and one
  for the action servers (`render_nginx_conf`, also shown in docs/deployment.md);
* the billing service and the console once, the console reading Rasa trackers through nginx.

Every Rasa server's action endpoint is nginx, so any Rasa server may run an action on any
action server; the Redis tracker and lock stores make any Rasa server safe for any message.

`acquire_cluster()` / `release_cluster()` share one running cluster between the test
directories of one pytest session (tests/scale, tests/faults, tests/fuzz), because starting
two Rasa servers costs a minute on a two-core machine.
"""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import httpx

from tests.conftest import INBOX_TOKEN_HEADER
from tests.stack import ROOT, Stack, free_port, wait_until

RASA_TOKEN = "test-rasa-token"
ADMIN = {"username": "admin", "password": "admin-test-password"}
#: Seconds for every process to become healthy; a busy shared machine may need more.
STARTUP_TIMEOUT = float(os.environ.get("HEATDESK_TEST_STARTUP_TIMEOUT", "300"))


def _ping_redis(port: int, timeout: float = 1.0) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A redis-server of the tests' own on a free loopback port (never the shared one)."""

    def __init__(self, workdir: Path, port: Optional[int] = None, aof: bool = False) -> None:
        self.port = port or free_port()
        self.workdir = workdir
        #: Append-only file with fsync every second (what scripts/ensure_redis.sh starts).
        self.aof = aof
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process: Optional[subprocess.Popen] = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self, timeout: float = 10.0) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server missing: run scripts/ensure_redis.sh (make test does)")
        log = open(self.workdir / "redis.log", "ab")
        self.process = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             *(["--appendonly", "yes", "--appendfsync", "everysec"] if self.aof else ["--appendonly", "no"]),
             "--dir", str(self.workdir), "--protected-mode", "yes"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            if _ping_redis(self.port):
                return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not answer within {timeout} s")

    def kill(self) -> None:
        """SIGKILL, as a crash: without AOF the data set is gone; with it, at most the last second."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None and _ping_redis(self.port)

    def restart(self, aof: Optional[bool] = None) -> None:
        """kill -9, then start again (with or without AOF from now on)."""
        self.kill()
        if aof is not None:
            self.aof = aof
        self.start()

    def client(self, db: int = 0) -> Any:
        from redis import Redis

        return Redis.from_url(self.url(db), decode_responses=True, socket_timeout=5)


def render_nginx_conf(
    *,
    prefix: Path,
    listen_port: int,
    actions_listen_port: int,
    rasa_ports: List[int],
    action_ports: List[int],
    run_as_root: bool = False,
) -> str:
    """The load balancer's configuration (the production version is in docs/deployment.md).

    * `rasa`: round robin, no stickiness — the Redis lock store serialises one conversation's
      messages whichever server receives them. A connection refused (a server down) is retried
      on the other server, for POSTs too (nginx never sent the request); a timeout is not,
      since the first server may still answer the resident.
    * `rasa_socketio`: `/socket.io/` needs WebSocket upgrade headers, and its HTTP
      long-polling requests of one session must reach the process that holds the session, so
      this upstream hashes the client address (websocket-only clients would not need it).
      Emits reach a socket from any server through the socket.io Redis manager.
    * `actions`: round robin; only refused connections are retried (actions have side effects).
    * Open-source nginx has passive health checks only (`max_fails`/`fail_timeout`); the
      processes' health endpoints are exposed under `/lb/health/...` for the probes of an
      orchestrator or an external checker.
    """
    rasa_servers = "\n".join(f"        server 127.0.0.1:{port} max_fails=2 fail_timeout=5s;" for port in rasa_ports)
    action_servers = "\n".join(f"        server 127.0.0.1:{port} max_fails=2 fail_timeout=5s;" for port in action_ports)
    health_locations = "\n".join(
        f"""        location = /lb/health/rasa-{index} {{
            proxy_pass http://127.0.0.1:{port}/webhooks/rest/;
            proxy_connect_timeout 2s;
            proxy_read_timeout 5s;
        }}"""
        for index, port in enumerate(rasa_ports)
    ) + "\n" + "\n".join(
        f"""        location = /lb/health/actions-{index} {{
            proxy_pass http://127.0.0.1:{port}/health;
            proxy_connect_timeout 2s;
            proxy_read_timeout 5s;
        }}"""
        for index, port in enumerate(action_ports)
    )
    user = "user root root;\n" if run_as_root else ""
    return f"""# Generated by tests/scale/cluster.py for a test cluster; see docs/deployment.md.
{user}worker_processes 1;
pid {prefix}/nginx.pid;
error_log stderr warn;
events {{
    worker_connections 1024;
}}
http {{
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    log_format upstreams '$remote_addr "$request" $status upstream=$upstream_addr '
                         'time=$request_time upstream_time=$upstream_response_time';
    access_log {prefix}/access.log upstreams;
    client_max_body_size 1m;

    map $http_upgrade $connection_upgrade {{
        default upgrade;
        ''      '';
    }}

    upstream rasa {{
{rasa_servers}
        keepalive 16;
    }}

    upstream rasa_socketio {{
        hash $remote_addr consistent;
{rasa_servers}
    }}

    upstream actions {{
{action_servers}
        keepalive 16;
    }}

    server {{
        listen 127.0.0.1:{listen_port};
        proxy_http_version 1.1;
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;

        location /socket.io/ {{
            proxy_pass http://rasa_socketio;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 120s;
            proxy_buffering off;
        }}

        location / {{
            proxy_pass http://rasa;
            proxy_set_header Connection "";
            proxy_connect_timeout 2s;
            proxy_read_timeout 90s;
            proxy_next_upstream error http_502 http_503;
            proxy_next_upstream_tries 2;
        }}

        location = /lb/health {{
            access_log off;
            return 200 "ok\\n";
        }}
{health_locations}
    }}

    server {{
        listen 127.0.0.1:{actions_listen_port};
        proxy_http_version 1.1;
        location / {{
            proxy_pass http://actions;
            proxy_set_header Connection "";
            proxy_connect_timeout 2s;
            proxy_read_timeout 60s;
            proxy_next_upstream error;
            proxy_next_upstream_tries 2;
        }}
    }}
}}
"""


class Nginx:
    """Debian's nginx in the foreground (`daemon off`) as a child of the tests."""

    def __init__(self, workdir: Path, **conf: Any) -> None:
        self.workdir = workdir
        (workdir / "tmp").mkdir(parents=True, exist_ok=True)
        self.listen_port: int = conf["listen_port"]
        self.actions_listen_port: int = conf["actions_listen_port"]
        self.conf_path = workdir / "nginx.conf"
        self.conf_path.write_text(
            render_nginx_conf(prefix=workdir, run_as_root=os.geteuid() == 0, **conf), encoding="utf-8"
        )
        self.process: Optional[subprocess.Popen] = None

    @staticmethod
    def binary() -> str:
        found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
        if found is None:
            raise RuntimeError("nginx missing: run scripts/ensure_nginx.sh (make test-scale does)")
        return found

    def start(self, timeout: float = 10.0) -> None:
        log = open(self.workdir / "nginx.log", "ab")
        test = subprocess.run(
            [self.binary(), "-t", "-p", str(self.workdir), "-c", str(self.conf_path), "-e", "stderr"],
            capture_output=True, text=True, timeout=30,
        )
        if test.returncode != 0:
            raise RuntimeError(f"nginx config rejected:\n{test.stderr}")
        self.process = subprocess.Popen(
            [self.binary(), "-p", str(self.workdir), "-c", str(self.conf_path), "-e", "stderr",
             "-g", "daemon off;"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.process.returncode}: {self.log_tail()}")
            try:
                if httpx.get(self.url + "/lb/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"nginx did not answer within {timeout} s: {self.log_tail()}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listen_port}"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGQUIT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None

    def log_tail(self, lines: int = 30) -> str:
        path = self.workdir / "nginx.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def access_log(self) -> str:
        path = self.workdir / "access.log"
        return path.read_text(errors="replace") if path.exists() else ""


@dataclass
class Cluster:
    """billing + console once, two action servers, two Rasa servers, nginx, a Redis of its own."""

    workdir: Path
    redis: RedisServer
    nginx: Nginx
    core: Stack
    actions: List[Stack]
    rasa: List[Stack]
    extra: Dict[str, Any] = field(default_factory=dict)
    #: REST sender → the inbox token its conversation's first POST got.
    inbox_tokens: Dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls) -> "Cluster":
        if not (ROOT / "var" / "models" / "current.tar.gz").exists():
            raise RuntimeError("no trained model: run `make train` (make test does it)")
        redis = RedisServer(Path(tempfile.mkdtemp(prefix="test-redis-", dir=ROOT / "var")))
        lb_port, lb_actions_port = free_port(), free_port()
        core = Stack.create(
            REDIS_URL=redis.url(0),
            RASA_PORT=str(lb_port),  # the console reads trackers through the load balancer
            RASA_HOST="127.0.0.1",
            RASA_TOKEN=RASA_TOKEN,
            # Loopback only: a WeChat reply that misses its deadline must not reach the real API.
            WECHAT_API_BASE=f"http://127.0.0.1:{free_port()}",
            # The fuzzer's random logins must not lock the agents of the other tests out.
            CONSOLE_LOGIN_MAX_ATTEMPTS="1000",
            # Redis restarts are noticed within a second; unconfirmed agent replies re-sent after 5 s.
            CONSOLE_UPKEEP_SECONDS="1",
            CONSOLE_RESEND_AFTER_SECONDS="5",
        )
        workdir = core.workdir
        actions: List[Stack] = []
        rasa: List[Stack] = []
        for index in range(2):
            env = dict(core.env, ACTION_PORT=str(free_port()))
            (workdir / f"actions-{index}").mkdir()
            actions.append(Stack(env, workdir / f"actions-{index}"))
        for index in range(2):
            # Each Rasa server listens on its own port and runs actions through nginx.
            env = dict(core.env, RASA_PORT=str(free_port()), ACTION_PORT=str(lb_actions_port))
            (workdir / f"rasa-{index}").mkdir()
            rasa.append(Stack(env, workdir / f"rasa-{index}"))
        nginx = Nginx(
            workdir / "nginx",
            listen_port=lb_port,
            actions_listen_port=lb_actions_port,
            rasa_ports=[int(stack.env["RASA_PORT"]) for stack in rasa],
            action_ports=[int(stack.env["ACTION_PORT"]) for stack in actions],
        )
        return cls(workdir, redis, nginx, core, actions, rasa)

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        started = time.monotonic()
        self.redis.start()
        self.nginx.start()
        jobs = [(self.core, ["billing", "console"])]
        jobs += [(stack, ["actions"]) for stack in self.actions]
        jobs += [(stack, ["rasa"]) for stack in self.rasa]
        with concurrent.futures.ThreadPoolExecutor(len(jobs)) as pool:
            futures = [pool.submit(stack.start, names, STARTUP_TIMEOUT) for stack, names in jobs]
            for future in futures:
                future.result()
        self.extra["startup_seconds"] = round(time.monotonic() - started, 1)

    def stop(self) -> None:
        # Rasa takes many seconds to stop gracefully; nothing of a test cluster needs that.
        for stack in [*self.rasa, *self.actions]:
            for name in list(stack.processes):
                stack.stop(name, signal.SIGKILL)
        self.core.stop_all()
        self.nginx.stop()
        self.redis.kill()

    # -- addresses ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The load balancer (what residents and the console use)."""
        return self.nginx.url

    def rasa_url(self, index: int) -> str:
        return self.rasa[index].url("rasa")

    @property
    def console_url(self) -> str:
        return self.core.url("console")

    @property
    def env(self) -> Dict[str, str]:
        return self.core.env

    # -- helpers for tests -------------------------------------------------------------------

    def unhealthy(self) -> List[str]:
        """The health URLs that do not answer 200: every process, and each upstream of nginx
        (after failures nginx leaves a server out for `fail_timeout` even when it is back)."""
        urls = [self.core.health_url("billing"), self.core.health_url("console")]
        urls += [stack.health_url("actions") for stack in self.actions]
        urls += [stack.health_url("rasa") for stack in self.rasa]
        urls += [self.url + "/webhooks/rest/", f"http://127.0.0.1:{self.nginx.actions_listen_port}/health"]
        failing = []
        for url in urls:
            try:
                answer = httpx.get(url, timeout=5)
                if answer.status_code != 200:
                    failing.append(f"{url} {answer.status_code} {answer.text[:200]}")
            except httpx.HTTPError as error:
                failing.append(f"{url} {type(error).__name__}")
        return failing

    def healthy(self) -> bool:
        return not self.unhealthy()

    def wait_healthy(self, timeout: float = 60.0) -> None:
        try:
            wait_until(self.healthy, timeout=timeout, interval=0.5)
        except AssertionError:
            raise AssertionError(f"not healthy after {timeout} s: {self.unhealthy()}") from None

    def tracker(self, sender: str, via: Optional[str] = None) -> Dict[str, Any]:
        """The tracker of a REST sender's conversation (`rest:<sender>`)."""
        answer = httpx.get(
            f"{via or self.url}/conversations/rest:{sender}/tracker",
            params={"token": RASA_TOKEN}, timeout=20,
        )
        answer.raise_for_status()
        return answer.json()

    @contextmanager
    def agent_client(self) -> Iterator[httpx.Client]:
        """The console as the admin agent (logged in)."""
        with httpx.Client(base_url=self.console_url, timeout=20) as client:
            client.post("/api/login", json=ADMIN).raise_for_status()
            yield client

    def say(self, sender: str, text: str, via: Optional[str] = None, timeout: float = 60.0,
            message_id: Optional[str] = None) -> List[Dict[str, Any]]:
        body: Dict[str, Any] = {"sender": sender, "message": text}
        if message_id:
            body["metadata"] = {"message_id": message_id}
        token = self.inbox_tokens.get(sender)
        answer = httpx.post(f"{via or self.url}/webhooks/rest/webhook", json=body, timeout=timeout,
                            headers={INBOX_TOKEN_HEADER: token} if token else {})
        answer.raise_for_status()
        # A new token comes with a conversation's first message, and again after Redis lost the old one.
        if answer.headers.get(INBOX_TOKEN_HEADER):
            self.inbox_tokens[sender] = answer.headers[INBOX_TOKEN_HEADER]
        return answer.json()

    def inbox(self, sender: str, via: Optional[str] = None) -> List[Dict[str, Any]]:
        """Agent replies waiting for `sender`, collected with the token its first POST got."""
        answer = httpx.get(f"{via or self.url}/webhooks/rest/inbox", params={"sender": sender}, timeout=20,
                           headers={INBOX_TOKEN_HEADER: self.inbox_tokens.get(sender, "")})
        answer.raise_for_status()
        return answer.json()

    def log(self, name: str, index: int = 0) -> str:
        stack = {"rasa": self.rasa, "actions": self.actions}.get(name)
        target = stack[index] if stack else self.core
        path = target.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    @contextmanager
    def frozen(self, name: str, index: int) -> Iterator[None]:
        """SIGSTOP one process (it keeps its sockets but does nothing) and SIGCONT it after."""
        stack = {"rasa": self.rasa, "actions": self.actions}[name][index]
        process = stack.processes[name]
        os.killpg(process.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.killpg(process.pid, signal.SIGCONT)


_shared: Optional[Cluster] = None
_users = 0
_lock = threading.Lock()


def acquire_cluster() -> Cluster:
    """The session's running cluster (started on first use)."""
    global _shared, _users
    with _lock:
        if _shared is None:
            cluster = Cluster.create()
            try:
                cluster.start()
            except BaseException:
                cluster.stop()
                raise
            _shared = cluster
        _users += 1
        return _shared


def release_cluster() -> None:
    """Stops the cluster when the last test directory using it is done."""
    global _shared, _users
    with _lock:
        _users -= 1
        if _users <= 0 and _shared is not None:
            _shared.stop()
            _shared = None
