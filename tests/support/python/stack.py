"""The services as real processes on loopback, for the Python browser test
and the dashboard benchmark (the C++ end-to-end tests have their own,
tests/e2e/stack/stack.h, with the same wiring).

A Stack owns a temporary directory holding a catalog written by
catalog-seed, a write token, the snapshot directory and every process's log.
Services start one by one (start_usage_api, start_catalog_api,
start_analytics_api, start_analytics_regen) so that a test can open a page
before the first snapshot exists; each waits until the service answers /health. Ports are
free loopback ports picked at start; a port taken meanwhile by another
process is replaced (up to three tries), as stack.h does. The bus runs with
CURVE, keys made by bus-keygen, wired as compose/up.sh wires them.

    with Stack(bin_dir, recipes=200, ingredients=120) as stack:
        stack.seed()
        stack.start_catalog_api(); stack.start_analytics_api(); stack.start_analytics_regen()
        stack.wait_served(stack.seeded_seq, files=("cocktail-space.json",))
        seq = stack.post_recipe({...})
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request


def usage_api_binary(bin_dir):
    """usage-api's path: USAGE_API_BIN, else <bin_dir>/usage-api; None when neither exists."""
    for path in (os.environ.get("USAGE_API_BIN"), os.path.join(bin_dir, "usage-api")):
        if path and os.access(path, os.X_OK):
            return path
    return None


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, headers=None, timeout=15):
    """(status, headers, body bytes) of one request; HTTP errors are answers, not exceptions."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None and "Content-Type" not in (headers or {}):
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            return res.status, dict(res.headers), res.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def get_json(url, timeout=15):
    status, _, body = http("GET", url, timeout=timeout)
    if status != 200:
        raise RuntimeError(f"GET {url}: HTTP {status}: {body[:300]!r}")
    return json.loads(body)


class Stack:
    def __init__(self, bin_dir, recipes=200, ingredients=120, seed=7, quiet_ms=50, max_delay_ms=500,
                 with_usage=False, keep=None):
        self.bin_dir = bin_dir
        self.recipes, self.ingredients, self.seed_value = recipes, ingredients, seed
        self.quiet_ms, self.max_delay_ms = quiet_ms, max_delay_ms
        self.dir = tempfile.mkdtemp(prefix="dashboard-stack-")
        self.keep = keep if keep is not None else os.environ.get("COCKTAIL_E2E_KEEP", "0") not in ("", "0")
        os.makedirs(os.path.join(self.dir, "logs"))
        self.db = os.path.join(self.dir, "catalog.db")
        self.analytics = os.path.join(self.dir, "analytics")
        self.token = "dash-" + os.urandom(12).hex()
        self.token_file = os.path.join(self.dir, "write-token")
        with open(self.token_file, "w") as f:
            f.write(self.token + "\n")
        self.ports = {"catalog-api": free_port(), "analytics-regen": free_port(), "analytics-api": free_port(),
                      "catalog-pub": free_port(), "regen-pub": free_port(), "usage-api": free_port(),
                      "usage-pub": free_port()}
        self.procs = {}
        self.seeded_seq = None
        # usage-api, when asked for and built: analytics-api then tells the page where it is.
        self.usage_bin = usage_api_binary(bin_dir) if with_usage else None
        self.usage_db = os.path.join(self.dir, "usage.db")
        # The bus runs with CURVE as in production: a key pair per service
        # (bus-keygen), each subscriber pinned to its publisher's public key.
        self.keys = os.path.join(self.dir, "bus-keys")
        os.makedirs(self.keys)
        for name in ("catalog-api", "analytics-regen", "analytics-api", "usage-api"):
            subprocess.run([os.path.join(bin_dir, "bus-keygen"), "--out", os.path.join(self.keys, name)],
                           check=True, capture_output=True, timeout=30)

    # ---- lifecycle

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        for name in ("analytics-api", "analytics-regen", "catalog-api", "usage-api"):
            p = self.procs.pop(name, None)
            if p and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, service, path=""):
        return f"http://127.0.0.1:{self.ports[service]}{path}"

    def log_tail(self, name, n=3000):
        path = os.path.join(self.dir, "logs", f"{name}.log")
        try:
            with open(path, errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return ""

    def logs(self):
        names = ("catalog-api", "analytics-regen", "analytics-api", "usage-api")
        return "\n".join(f"--- {n}\n{self.log_tail(n)}" for n in names if n in self.procs)

    # ---- processes

    def seed(self):
        out = subprocess.run([os.path.join(self.bin_dir, "catalog-seed"), "--db", self.db,
                              "--recipes", str(self.recipes), "--ingredients", str(self.ingredients),
                              "--seed", str(self.seed_value)],
                             check=True, capture_output=True, text=True, timeout=300)
        self.seeded_seq = json.loads(out.stdout)["catalog_seq"]
        return self.seeded_seq

    def _arguments(self, name):
        loop = lambda key: f"127.0.0.1:{self.ports[key]}"  # noqa: E731
        tcp = lambda key: f"tcp://127.0.0.1:{self.ports[key]}"  # noqa: E731
        key = lambda svc, ext="key": os.path.join(self.keys, f"{svc}.{ext}")  # noqa: E731
        if name == "catalog-api":
            return ["--db", self.db, "--http", loop(name), "--pub", tcp("catalog-pub"), "--token-file",
                    self.token_file, "--publish-start-delay-ms", "100", "--heartbeat-ms", "200",
                    "--access-log=false", "--bus-key-file", key(name, "key_secret"),
                    "--bus-authorized-keys", key("analytics-regen")]
        if name == "analytics-regen":
            return ["--db", self.db, "--analytics-path", self.analytics, "--http", loop(name), "--sub",
                    tcp("catalog-pub"), "--pub", tcp("regen-pub"), "--token-file", self.token_file,
                    "--quiet-ms", str(self.quiet_ms), "--max-delay-ms", str(self.max_delay_ms),
                    "--heartbeat-ms", "200", "--check-interval-ms", "1000",
                    "--bus-key-file", key(name, "key_secret"), "--bus-server-key", key("catalog-api"),
                    "--bus-authorized-keys", key("analytics-api")]
        if name == "usage-api":
            return ["--db", self.usage_db, "--http", loop(name), "--pub", tcp("usage-pub"),
                    "--cors-origins", self.url("analytics-api"), "--access-log=false",
                    "--bus-key-file", key(name, "key_secret"), "--bus-authorized-keys", self.keys]
        args = ["--analytics-path", self.analytics, "--db", self.db, "--http", loop(name), "--sub",
                tcp("regen-pub"), "--check-interval-ms", "500", "--access-log=false",
                "--bus-key-file", key(name, "key_secret"), "--bus-server-key", key("analytics-regen")]
        if self.usage_bin:
            args += ["--usage-api-url", self.url("usage-api")]
        return args

    def start(self, name, timeout=60):
        for attempt in range(3):
            log = open(os.path.join(self.dir, "logs", f"{name}.log"), "ab")
            binary = self.usage_bin if name == "usage-api" else os.path.join(self.bin_dir, name)
            p = subprocess.Popen([binary] + self._arguments(name),
                                 stdout=subprocess.DEVNULL, stderr=log)
            log.close()
            self.procs[name] = p
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if p.poll() is not None:
                    break
                try:
                    status, _, _ = http("GET", self.url(name, "/health"), timeout=2)
                    if status == 200:
                        return
                except OSError:
                    pass
                time.sleep(0.05)
            if p.poll() is None:
                raise RuntimeError(f"{name} not healthy within {timeout} s\n{self.logs()}")
            if "Address already in use" not in self.log_tail(name) or attempt == 2:
                raise RuntimeError(f"{name} exited with {p.returncode}\n{self.logs()}")
            self.ports[name] = free_port()  # another process took it meanwhile
            if name == "catalog-api":
                self.ports["catalog-pub"] = free_port()
            if name == "analytics-regen":
                self.ports["regen-pub"] = free_port()
            if name == "usage-api":
                self.ports["usage-pub"] = free_port()

    def stop(self, name, timeout=15):
        """SIGTERM and wait (a graceful stop); the next start() reuses the ports and files."""
        p = self.procs.pop(name)
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=timeout)
        return p.returncode

    def start_catalog_api(self):
        self.start("catalog-api")

    def start_analytics_regen(self):
        self.start("analytics-regen")

    def start_analytics_api(self):
        self.start("analytics-api")

    def start_usage_api(self):
        """Starts usage-api when there is one (see usage_bin); False otherwise."""
        if not self.usage_bin:
            return False
        self.start("usage-api")
        return True

    # ---- reads and writes

    def analytics_json(self, path):
        return get_json(self.url("analytics-api", "/api/v1/analytics/" + path))

    def wait_served(self, seq, files=(), timeout=120):
        """Waits until analytics-api serves a generation covering `seq`, and each
        of `files` (e.g. "cocktail-space.json") computed from seq or later."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = self.analytics_json("status")["data"]
                by_file = {v["file"]: v for v in last["files"].values()}
                if (last["catalog_seq"] or -1) >= seq and all(
                        f in by_file and by_file[f]["catalog_seq"] >= seq for f in files):
                    return last
            except (OSError, RuntimeError, KeyError, TypeError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"no generation covering seq {seq} (files {files}) within {timeout} s; "
                           f"last status {last}\n{self.logs()}")

    def write(self, method, path, body):
        status, _, data = http(method, self.url("catalog-api", path), body,
                               headers={"Authorization": f"Bearer {self.token}",
                                        "Content-Type": "application/json"})
        if status not in (200, 201):
            raise RuntimeError(f"{method} {path}: HTTP {status}: {data[:300]!r}")
        return json.loads(data)
