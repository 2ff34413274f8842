#!/usr/bin/env python3
"""Soak: the whole stack for a bounded time under writes, reads, server-sent
event clients and periodic SIGKILLs of each service, reporting over time the
RSS, open file descriptors and threads of every process, the disk use of the
analytics directory and of both databases, and acknowledged writes lost.

Run through tests/bench/soak.sh (opt-in, not part of ctest). Every process
runs as deployed: CURVE keys made by bus-keygen, analytics-api publishing
analytics.repair to analytics-regen, default settings otherwise.

What it does, for --seconds (600 by default, --short: 90):
  - writers: catalog-api creates (POST /api/v1/ingredients, unique names) and
    usage-api events (POST /api/analytics/track with client event ids), at
    --write-rate each; a write counts as acknowledged only on its 201 / 200;
  - readers: analytics-api reads of several routes, a share of them with
    min_seq of the last acknowledged catalog write (read-your-writes);
  - --sse clients on /api/v1/analytics/stream, reconnecting when cut;
  - every --kill-every seconds the next service in turn (catalog-api,
    analytics-regen, analytics-api, usage-api) gets SIGKILL and is started
    again at once;
  - every --sample-every seconds one line: per service pid, RSS, fds,
    threads; disk; writes acknowledged and lost so far (an acknowledged write
    older than 2 s that the database does not hold); reads by outcome; SSE
    events and reconnects.
At the end: the kills stop, the stack must converge (analytics-api serving a
generation that covers the last acknowledged write), every acknowledged write
of both services is looked up, each service gets SIGTERM and must exit 0; and
per process lifetime, the growth of RSS and fds from its first warm sample
(--warmup s after start) to its last is reported, to tell a leak from a
plateau. The exit status is 1 when a write was lost, the stack did not
converge, or a service did not stop cleanly.
"""
import argparse
import http.client
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def request(port, method, path, body=None, headers=None, timeout=5.0):
    """(status, body bytes); raises OSError / http.client errors when the service is down."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        payload = None if body is None else json.dumps(body).encode()
        h = {"Content-Type": "application/json"} if payload is not None else {}
        h.update(headers or {})
        conn.request(method, path, body=payload, headers=h)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def du(path):
    """Bytes under path, each inode once (generations share files by hard link)."""
    seen = set()
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                st = os.lstat(os.path.join(root, f))
            except FileNotFoundError:
                continue
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return total


def file_sizes(*paths):
    return sum(os.path.getsize(p) for p in paths if os.path.exists(p))


class Service:
    def __init__(self, name, binary, args, port, logdir):
        self.name, self.binary, self.args, self.port = name, binary, args, port
        self.logdir = logdir
        self.proc = None
        self.started_at = 0.0
        self.runs = 0
        self.lifetimes = []  # per pid: [(t, rss_kb, fds, threads)]

    def start(self, timeout=60.0):
        self.runs += 1
        log = open(os.path.join(self.logdir, f"{self.name}.{self.runs}.log"), "wb")
        self.proc = subprocess.Popen([self.binary] + self.args, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        self.started_at = time.monotonic()
        self.lifetimes.append({"pid": self.proc.pid, "samples": []})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} at start; see {log.name}")
            try:
                if request(self.port, "GET", "/health", timeout=1.0)[0] == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not healthy within {timeout} s; see {log.name}")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout=30.0):
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return "timeout"

    def sample(self, now):
        if not self.proc or self.proc.poll() is not None:
            return None
        pid = self.proc.pid
        try:
            status = open(f"/proc/{pid}/status").read()
            rss = int(status.split("VmRSS:")[1].split()[0])
            threads = int(status.split("Threads:")[1].split()[0])
            fds = len(os.listdir(f"/proc/{pid}/fd"))
        except (OSError, IndexError, ValueError):
            return None
        s = (now - self.started_at, rss, fds, threads)
        self.lifetimes[-1]["samples"].append(s)
        return pid, rss, fds, threads


class Counters:
    def __init__(self):
        self.lock = threading.Lock()
        self.values = {}

    def add(self, key, n=1):
        with self.lock:
            self.values[key] = self.values.get(key, 0) + n

    def get(self, key):
        with self.lock:
            return self.values.get(key, 0)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin-dir", required=True)
    p.add_argument("--seconds", type=int, default=600)
    p.add_argument("--short", action="store_true", help="90 s, a kill every 10 s")
    p.add_argument("--recipes", type=int, default=300)
    p.add_argument("--write-rate", type=float, default=20.0, help="catalog writes per second (and as many usage events)")
    p.add_argument("--readers", type=int, default=4)
    p.add_argument("--sse", type=int, default=8)
    p.add_argument("--kill-every", type=float, default=30.0)
    p.add_argument("--sample-every", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=20.0, help="seconds after a start before RSS/fds count as warm")
    p.add_argument("--keep", action="store_true", help="keep the working directory")
    a = p.parse_args()
    if a.short:
        a.seconds, a.kill_every, a.sample_every = 90, 10.0, 5.0

    work = tempfile.mkdtemp(prefix="soak-", dir=os.environ.get("TMPDIR", "/var/tmp"))
    logs = os.path.join(work, "logs")
    os.makedirs(logs)
    keys = os.path.join(work, "keys")
    os.makedirs(keys)
    b = lambda name: os.path.join(a.bin_dir, name)  # noqa: E731
    for svc in ("catalog-api", "analytics-regen", "analytics-api", "usage-api"):
        subprocess.run([b("bus-keygen"), "--out", os.path.join(keys, svc)], check=True, capture_output=True)
    k = lambda f: os.path.join(keys, f)  # noqa: E731
    token = f"soak-{random.getrandbits(64):x}"
    with open(os.path.join(work, "token"), "w") as f:
        f.write(token + "\n")
    catalog = os.path.join(work, "catalog.db")
    analytics = os.path.join(work, "analytics")
    usage_db = os.path.join(work, "usage.db")
    subprocess.run([b("catalog-seed"), "--db", catalog, "--recipes", str(a.recipes)], check=True, capture_output=True)

    ports = {n: free_port() for n in ("catalog", "regen", "api", "usage", "catalog_pub", "regen_pub", "api_pub", "usage_pub")}
    tcp = lambda n: f"tcp://127.0.0.1:{ports[n]}"  # noqa: E731
    http_of = lambda n: f"127.0.0.1:{ports[n]}"  # noqa: E731
    services = [
        Service("catalog-api", b("catalog-api"),
                ["--db", catalog, "--http", http_of("catalog"), "--pub", tcp("catalog_pub"),
                 "--token-file", os.path.join(work, "token"), "--access-log=false",
                 "--bus-key-file", k("catalog-api.key_secret"), "--bus-authorized-keys", k("analytics-regen.key")],
                ports["catalog"], logs),
        Service("analytics-regen", b("analytics-regen"),
                ["--db", catalog, "--analytics-path", analytics, "--http", http_of("regen"),
                 "--sub", tcp("catalog_pub"), "--pub", tcp("regen_pub"), "--token-file", os.path.join(work, "token"),
                 "--bus-key-file", k("analytics-regen.key_secret"), "--bus-server-key", k("catalog-api.key"),
                 "--bus-authorized-keys", k("analytics-api.key"),
                 "--repair-sub", tcp("api_pub"), "--repair-server-key", k("analytics-api.key")],
                ports["regen"], logs),
        Service("analytics-api", b("analytics-api"),
                ["--db", catalog, "--analytics-path", analytics, "--http", http_of("api"),
                 "--sub", tcp("regen_pub"), "--pub", tcp("api_pub"), "--access-log=false",
                 "--bus-key-file", k("analytics-api.key_secret"), "--bus-server-key", k("analytics-regen.key"),
                 "--bus-authorized-keys", k("analytics-regen.key")],
                ports["api"], logs),
        Service("usage-api", b("usage-api"),
                ["--db", usage_db, "--http", http_of("usage"), "--pub", tcp("usage_pub"), "--access-log=false",
                 "--bus-key-file", k("usage-api.key_secret"), "--bus-authorized-keys", keys],
                ports["usage"], logs),
    ]
    by_name = {s.name: s for s in services}
    for s in services:
        s.start()

    stop = threading.Event()
    c = Counters()
    acked = []  # (monotonic, name, seq) of acknowledged catalog writes
    acked_usage = []  # (monotonic, event_id)
    ack_lock = threading.Lock()
    last_seq = [0]
    auth = {"Authorization": f"Bearer {token}"}

    def writer():
        n = 0
        period = 1.0 / a.write_rate
        nxt = time.monotonic()
        while not stop.is_set():
            nxt += period
            n += 1
            name = f"soak ingredient {n}"
            try:
                st, body = request(ports["catalog"], "POST", "/api/v1/ingredients", {"name": name}, auth)
                if st == 201:
                    seq = json.loads(body)["catalog_seq"]
                    with ack_lock:
                        acked.append((time.monotonic(), name, seq))
                        last_seq[0] = max(last_seq[0], seq)
                    c.add("write_ok")
                else:
                    c.add(f"write_{st}")
            except (OSError, http.client.HTTPException):
                c.add("write_error")
            time.sleep(max(0.0, nxt - time.monotonic()))

    def usage_writer():
        n = 0
        period = 1.0 / a.write_rate
        nxt = time.monotonic()
        while not stop.is_set():
            nxt += period
            n += 1
            event_id = f"soak-{n}"
            ev = {"event_type": "tool_used", "session_id": f"soak-session-{n % 50}", "tool_name": "cocktail-space",
                  "event_id": event_id}
            try:
                st, _ = request(ports["usage"], "POST", "/api/analytics/track", ev)
                if st == 200:
                    with ack_lock:
                        acked_usage.append((time.monotonic(), event_id))
                    c.add("usage_ok")
                else:
                    c.add(f"usage_{st}")
            except (OSError, http.client.HTTPException):
                c.add("usage_error")
            time.sleep(max(0.0, nxt - time.monotonic()))

    routes = ["/api/v1/analytics/ingredient-usage", "/api/v1/analytics/recipe-complexity",
              "/api/v1/analytics/cocktail-space-em", "/api/v1/analytics/recipe-similar?recipe_id=1&limit=5",
              "/api/v1/analytics/ingredient-tree", "/api/v1/analytics/status"]

    def reader(i):
        rnd = random.Random(i)
        while not stop.is_set():
            if rnd.random() < 0.25:
                path = f"/api/v1/analytics/ingredient-usage?min_seq={last_seq[0]}&wait_ms=3000"
                kind = "min_seq"
            else:
                path, kind = rnd.choice(routes), "read"
            try:
                st, _ = request(ports["api"], "GET", path, timeout=10.0)
                c.add(f"{kind}_{st}")
            except (OSError, http.client.HTTPException):
                c.add(f"{kind}_error")
                time.sleep(0.05)

    def sse_client():
        while not stop.is_set():
            try:
                conn = http.client.HTTPConnection("127.0.0.1", ports["api"], timeout=30)
                conn.request("GET", "/api/v1/analytics/stream")
                r = conn.getresponse()
                if r.status != 200:
                    c.add(f"sse_{r.status}")
                    conn.close()
                    time.sleep(0.5)
                    continue
                while not stop.is_set():
                    line = r.fp.readline()
                    if not line:
                        break
                    if line.startswith(b"event:"):
                        c.add("sse_events")
                conn.close()
            except (OSError, http.client.HTTPException):
                pass
            if not stop.is_set():
                c.add("sse_reconnects")
                time.sleep(0.2)

    threads = [threading.Thread(target=writer), threading.Thread(target=usage_writer)]
    threads += [threading.Thread(target=reader, args=(i,)) for i in range(a.readers)]
    threads += [threading.Thread(target=sse_client, daemon=True) for _ in range(a.sse)]
    for t in threads:
        t.start()

    def lost_so_far(older_than):
        """Acknowledged writes older than `older_than` seconds that the databases do not hold."""
        cutoff = time.monotonic() - older_than
        with ack_lock:
            names = [n for (t, n, _) in acked if t < cutoff]
            ids = [e for (t, e) in acked_usage if t < cutoff]
        lost_c = lost_u = 0
        db = sqlite3.connect(f"file:{catalog}?mode=ro", uri=True, timeout=10)
        try:
            present = {r[0] for r in db.execute("SELECT name FROM ingredients WHERE name LIKE 'soak ingredient %'")}
        finally:
            db.close()
        lost_c = sum(1 for n in names if n not in present)
        if os.path.exists(usage_db):
            db = sqlite3.connect(f"file:{usage_db}?mode=ro", uri=True, timeout=10)
            try:
                present_u = {r[0] for r in db.execute("SELECT id FROM usage_events WHERE id LIKE 'soak-%'")}
            finally:
                db.close()
            lost_u = sum(1 for e in ids if e not in present_u)
        return lost_c, len(names), lost_u, len(ids)

    started = time.monotonic()
    rows = []

    def sample_line():
        now = time.monotonic()
        row = {"t": round(now - started, 1), "services": {}}
        parts = [f"t={row['t']:6.1f}s"]
        for s in services:
            sm = s.sample(now)
            if sm:
                pid, rss, fds, thr = sm
                row["services"][s.name] = {"pid": pid, "rss_kb": rss, "fds": fds, "threads": thr}
                parts.append(f"{s.name} pid={pid} rss={rss / 1024:.1f}MB fds={fds} thr={thr}")
            else:
                parts.append(f"{s.name} down")
        disk = {"analytics": du(analytics), "catalog": file_sizes(catalog, catalog + "-wal", catalog + "-shm"),
                "usage": file_sizes(usage_db, usage_db + "-wal", usage_db + "-shm")}
        row["disk"] = disk
        parts.append("disk " + " ".join(f"{n}={v / 1e6:.1f}MB" for n, v in disk.items()))
        try:
            lc, nc, lu, nu = lost_so_far(2.0)
        except sqlite3.Error as e:
            lc = nc = lu = nu = -1
            parts.append(f"(db check failed: {e})")
        row.update(lost_catalog=lc, checked_catalog=nc, lost_usage=lu, checked_usage=nu)
        parts.append(f"writes ok={c.get('write_ok')} err={c.get('write_error')} lost={lc}/{nc}")
        parts.append(f"usage ok={c.get('usage_ok')} err={c.get('usage_error')} lost={lu}/{nu}")
        parts.append(f"reads 200={c.get('read_200')} 503={c.get('read_503')} err={c.get('read_error')}"
                     f" min_seq 200={c.get('min_seq_200')} 503={c.get('min_seq_503')} err={c.get('min_seq_error')}")
        parts.append(f"sse events={c.get('sse_events')} reconnects={c.get('sse_reconnects')}")
        rows.append(row)
        print(" | ".join(parts), flush=True)

    kill_order = ["catalog-api", "analytics-regen", "analytics-api", "usage-api"]
    kills = 0
    next_kill = started + a.kill_every
    next_sample = started
    failures = []
    while time.monotonic() - started < a.seconds:
        now = time.monotonic()
        if now >= next_sample:
            sample_line()
            next_sample += a.sample_every
        if now >= next_kill:
            victim = by_name[kill_order[kills % len(kill_order)]]
            kills += 1
            victim.kill()
            t0 = time.monotonic()
            try:
                victim.start()
                c.add("restart_ms", int((time.monotonic() - t0) * 1000))
            except RuntimeError as e:
                failures.append(str(e))
                print(f"FAILED: {e}", flush=True)
                break
            print(f"  killed {victim.name} (SIGKILL #{kills}); healthy again after {time.monotonic() - t0:.2f} s",
                  flush=True)
            next_kill += a.kill_every
        time.sleep(0.05)
    stop.set()
    for t in threads:
        if not t.daemon:
            t.join()

    # Convergence: analytics-api serves a generation covering the last acknowledged write.
    target = last_seq[0]
    t0 = time.monotonic()
    converged = None
    while time.monotonic() - t0 < 120:
        try:
            st, body = request(ports["api"], "GET", "/health")
            d = json.loads(body).get("details", {})
            if st == 200 and (d.get("catalog_seq") or 0) >= target:
                converged = time.monotonic() - t0
                break
        except (OSError, http.client.HTTPException, ValueError):
            pass
        time.sleep(0.2)
    sample_line()
    lc, nc, lu, nu = lost_so_far(0.0)
    exits = {s.name: s.stop() for s in reversed(services)}

    print("\n# summary")
    print(f"duration {a.seconds} s, {kills} SIGKILLs (each service every {a.kill_every * 4:.0f} s)")
    print(f"catalog writes acknowledged {nc}, lost {lc}; usage events acknowledged {nu}, lost {lu}")
    print(f"converged on seq {target}: " + (f"{converged:.2f} s after the last write" if converged is not None
                                            else "NOT within 120 s"))
    print(f"clean SIGTERM exits: {exits}")
    print(f"reads: " + ", ".join(f"{k}={v}" for k, v in sorted(c.values.items())
                                 if k.startswith(("read_", "min_seq_"))))
    print(f"sse: events={c.get('sse_events')} reconnects={c.get('sse_reconnects')}")
    print("per process lifetime (samples after the warm-up): RSS and fds first -> last, per minute")
    for s in services:
        for life in s.lifetimes:
            warm = [x for x in life["samples"] if x[0] >= a.warmup]
            if len(warm) < 2:
                continue
            (t1, r1, f1, _), (t2, r2, f2, _) = warm[0], warm[-1]
            minutes = max((t2 - t1) / 60.0, 1e-9)
            print(f"  {s.name:16} pid {life['pid']:7}: {t2 - t1:5.0f} s  rss {r1 / 1024:6.1f} -> {r2 / 1024:6.1f} MB"
                  f" ({(r2 - r1) / 1024 / minutes:+6.2f} MB/min)  fds {f1:4} -> {f2:4} ({(f2 - f1) / minutes:+6.1f}/min)")
    with open(os.path.join(work, "soak.json"), "w") as f:
        json.dump({"rows": rows, "counters": c.values, "exits": exits}, f)
    ok = lc == 0 and lu == 0 and converged is not None and not failures and all(v == 0 for v in exits.values())
    print(f"work dir {work}" + (" (kept)" if a.keep or not ok else ""))
    if ok and not a.keep:
        subprocess.run(["rm", "-rf", work])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
