#!/usr/bin/python3
"""usage-api's HTTP contract, checked against the JSON Schemas in
proto/usage/ on a real usage-api process over loopback.

1. Every schema is a valid draft 2020-12 schema; every example under
   proto/usage/examples/ is accepted by its schema, every one under
   examples/invalid/ rejected.
2. Every route and answer: POST track (one event, an array, text/plain as
   sendBeacon sends it, a client event_id retried), GET track, GET rollups,
   each validated against its schema and checked for values; refusals (a
   missing or mistyped field, invalid UTF-8, a 10 MB body, bad query
   parameters) answer the error schema, name the field, and store nothing;
   CORS preflight and headers for the dashboard's origin; /health; /metrics.

Usage: contract_test.py <source dir> <usage-api binary>. Exit 0 on success.
"""
import json
import pathlib
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import jsonschema

ORIGIN = "http://dashboard.example:8081"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Schemas:
    def __init__(self, folder):
        self.folder = folder
        self.by_name = {}
        store = {}
        for path in sorted(folder.glob("*.schema.json")):
            schema = json.loads(path.read_text())
            jsonschema.Draft202012Validator.check_schema(schema)
            self.by_name[path.name[: -len(".schema.json")]] = schema
            store[schema["$id"]] = schema
        self.store = store

    def errors(self, name, instance):
        schema = self.by_name[name]
        resolver = jsonschema.RefResolver(schema["$id"], schema, store=self.store)
        validator = jsonschema.Draft202012Validator(schema, resolver=resolver)
        return [e.message for e in validator.iter_errors(instance)]

    def name_of(self, example):
        stem = example.name[: -len(".json")]
        matches = [n for n in self.by_name if stem == n or stem.startswith(n + ".")]
        return max(matches, key=len) if matches else None


class Check:
    def __init__(self):
        self.failures = []
        self.count = 0

    def __call__(self, condition, what):
        self.count += 1
        if not condition:
            self.failures.append(what)
            print("FAIL", what)


def request(port, method, path, body=None, headers=None):
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method, headers=headers or {})
    if data is not None and "Content-Type" not in (headers or {}):
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
            return r.status, dict(r.headers), raw
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def jbody(raw):
    try:
        return json.loads(raw)
    except ValueError:
        return None


def main(root, binary):
    root = pathlib.Path(root)
    schemas = Schemas(root / "proto" / "usage")
    check = Check()

    # 1. The examples.
    examples = root / "proto" / "usage" / "examples"
    seen = set()
    for path, should_pass in [(p, True) for p in sorted(examples.glob("*.json"))] + \
                             [(p, False) for p in sorted((examples / "invalid").glob("*.json"))]:
        name = schemas.name_of(path)
        check(name is not None, f"{path.name}: no schema matches")
        if name is None:
            continue
        seen.add(name)
        errors = schemas.errors(name, json.loads(path.read_text()))
        check(bool(errors) != should_pass, f"{path.name}: {'rejected: ' + errors[0] if errors else 'accepted'}")
    for name in schemas.by_name:
        if name != "track-event":
            check(name in seen, f"schema {name} has no example")

    # 2. A real process.
    with tempfile.TemporaryDirectory(prefix="usage-contract-") as tmp:
        port = free_port()
        log = open(pathlib.Path(tmp) / "usage-api.log", "w")
        proc = subprocess.Popen([binary, "--db", f"{tmp}/usage.db", "--http", f"127.0.0.1:{port}",
                                 "--pub", f"tcp://127.0.0.1:{free_port()}", "--allow-anonymous-bus", "--cors-origins", ORIGIN,
                                 "--log-level", "warn"], stdout=log, stderr=log)
        try:
            for _ in range(200):
                try:
                    if request(port, "GET", "/health")[0] == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.05)
            run_routes(port, schemas, check)
        finally:
            proc.terminate()
            check(proc.wait(timeout=20) == 0, "usage-api exits 0 on SIGTERM")
            log.close()
            if check.failures:
                print((pathlib.Path(tmp) / "usage-api.log").read_text()[-3000:])

    print(f"{check.count} checks, {len(check.failures)} failures")
    return 1 if check.failures else 0


def expect_error(port, schemas, check, what, method, path, body, status, field=None, headers=None):
    code, hdrs, raw = request(port, method, path, body, headers)
    doc = jbody(raw)
    check(code == status, f"{what}: status {code}, expected {status}: {raw[:200]!r}")
    check(doc is not None and not schemas.errors("error", doc), f"{what}: error schema: {raw[:200]!r}")
    if field is not None and doc:
        got = doc.get("error", {}).get("details", {}).get("field")
        check(got == field, f"{what}: field {got!r}, expected {field!r}")
        check(field in doc["error"]["message"], f"{what}: message names {field}: {doc['error']['message']}")
    return doc


def run_routes(port, schemas, check):
    now = time.time()
    iso = lambda t: time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"

    # Empty store: the seed's step 5 answer.
    code, _, raw = request(port, "GET", "/api/analytics/track?hours=1")
    doc = jbody(raw)
    check(code == 200 and doc == {"ok": True, "count": 0, "total_in_range": 0, "events": []}, f"empty track: {raw!r}")

    sent = []
    one = {"event_type": "tool_used", "session_id": "session_a", "tool_name": "Start/Sit", "action": "compare",
           "properties": {"risk_mode": "protect"}, "timestamp": iso(now - 60), "user_id": "u1", "demo_mode": False}
    check(not schemas.errors("track-request", one), "the single event fits track-request")
    code, hdrs, raw = request(port, "POST", "/api/analytics/track", one, {"Origin": ORIGIN})
    doc = jbody(raw)
    check(code == 200 and doc and not schemas.errors("track-response", doc), f"POST one: {code} {raw!r}")
    check(hdrs.get("Access-Control-Allow-Origin") == ORIGIN, f"POST from the dashboard origin gets CORS: {hdrs}")
    if doc and "event_id" in doc:
        sent.append((doc["event_id"], one))

    batch = [{"event_type": "page_view", "session_id": "session_b", "page": "/tools"},
             {"event_type": "risk_mode_changed", "session_id": "session_a", "risk_mode": "aggressive",
              "event_id": "client-1"},
             {"event_type": "tool_used", "session_id": "session_c", "tool_name": "FAAB", "timestamp": iso(now)}]
    check(not schemas.errors("track-request", batch), "the array fits track-request")
    # sendBeacon: a string body goes as text/plain, no preflight.
    code, _, raw = request(port, "POST", "/api/analytics/track", json.dumps(batch).encode(),
                           {"Content-Type": "text/plain;charset=UTF-8", "Origin": ORIGIN})
    doc = jbody(raw)
    check(code == 200 and doc and not schemas.errors("track-response", doc), f"POST array as text/plain: {raw!r}")
    check(doc and doc.get("count") == 3 and doc["event_ids"][1] == "client-1", f"ids in order: {raw!r}")
    if doc and "event_ids" in doc:
        sent += list(zip(doc["event_ids"], batch))
    # A retried client id is acknowledged and not stored twice.
    code, _, raw = request(port, "POST", "/api/analytics/track", batch[1])
    check(code == 200 and jbody(raw) == {"ok": True, "event_id": "client-1"}, f"retry of client-1: {raw!r}")

    # Refusals: the error schema, the field named, nothing stored.
    track = "/api/analytics/track"
    expect_error(port, schemas, check, "missing session_id", "POST", track, {"event_type": "t"}, 400, "session_id")
    expect_error(port, schemas, check, "wrong type", "POST", track, {"event_type": "t", "session_id": 5}, 400,
                 "session_id")
    expect_error(port, schemas, check, "item of an array", "POST", track,
                 [{"event_type": "t", "session_id": "ok"}, {"event_type": "t", "session_id": "x", "demo_mode": "no"}],
                 400, "[1].demo_mode")
    expect_error(port, schemas, check, "future timestamp", "POST", track,
                 {"event_type": "t", "session_id": "s", "timestamp": iso(now + 86400)}, 400, "timestamp")
    expect_error(port, schemas, check, "older than retention", "POST", track,
                 {"event_type": "t", "session_id": "s", "timestamp": iso(now - 40 * 86400)}, 400, "timestamp")
    expect_error(port, schemas, check, "oversized properties", "POST", track,
                 {"event_type": "t", "session_id": "s", "properties": {"blob": "x" * 9000}}, 400, "properties")
    expect_error(port, schemas, check, "invalid UTF-8", "POST", track,
                 b'{"event_type":"t","session_id":"\xff\xfe"}', 400, "body")
    expect_error(port, schemas, check, "not JSON", "POST", track, b"event_type=t", 400, "body")
    expect_error(port, schemas, check, "1,001 events", "POST", track,
                 [{"event_type": "t", "session_id": "s"}] * 1001, 400, "body")
    expect_error(port, schemas, check, "10 MB body", "POST", track, b"[" + b" " * (10 << 20) + b"]", 413)
    expect_error(port, schemas, check, "hours=0", "GET", "/api/analytics/track?hours=0", None, 400, "hours")
    expect_error(port, schemas, check, "hours beyond retention", "GET", "/api/analytics/rollups?hours=100000",
                 None, 400, "hours")
    expect_error(port, schemas, check, "limit=abc", "GET", "/api/analytics/track?limit=abc", None, 400, "limit")

    # GET track: what was acknowledged, newest first, nothing refused.
    code, _, raw = request(port, "GET", "/api/analytics/track?hours=24&limit=1000")
    doc = jbody(raw)
    check(code == 200 and doc and not schemas.errors("track-list", doc),
          f"GET track schema: {schemas.errors('track-list', doc) if doc else raw[:200]}")
    if doc:
        check(doc["count"] == 4 and doc["total_in_range"] == 4, f"4 events stored: {doc['count']} {doc['total_in_range']}")
        ids = [e["event_id"] for e in doc["events"]]
        check(sorted(ids) == sorted(i for i, _ in sent), f"stored ids {ids} == acknowledged {[i for i, _ in sent]}")
        stamps = [e["timestamp"] for e in doc["events"]]
        check(stamps == sorted(stamps, reverse=True), "newest first")
        first = next((e for e in doc["events"] if e["event_id"] == sent[0][0]), None)
        check(first is not None and first["user_id"] == "u1" and first["demo_mode"] is False and
              first["properties"] == {"risk_mode": "protect"} and first["tool_name"] == "Start/Sit",
              f"fields round-trip: {first}")
        page = next((e for e in doc["events"] if e["event_type"] == "page_view"), None)
        check(page is not None and page["properties"] == {"page": "/tools"} and page["demo_mode"] is True,
              f"unknown field kept in properties, demo_mode defaults to true: {page}")
    code, _, raw = request(port, "GET", "/api/analytics/track?hours=24&limit=2")
    doc = jbody(raw)
    check(code == 200 and doc and doc["count"] == 2 and doc["total_in_range"] == 4, f"limit=2: {raw[:200]!r}")

    # GET rollups.
    code, hdrs, raw = request(port, "GET", "/api/analytics/rollups?hours=168", None, {"Origin": ORIGIN})
    doc = jbody(raw)
    check(code == 200 and doc and not schemas.errors("rollups", doc),
          f"GET rollups schema: {schemas.errors('rollups', doc) if doc else raw[:200]}")
    check(hdrs.get("Access-Control-Allow-Origin") == ORIGIN, "GET rollups from the dashboard origin gets CORS")
    if doc:
        check(doc["hours"] == 168 and doc["total_events"] == 4 and doc["total_sessions"] == 3,
              f"totals: {doc['total_events']} events, {doc['total_sessions']} sessions")
        merged = {}
        for row in doc["rollups"]:
            for k, v in row["event_counts"].items():
                merged[k] = merged.get(k, 0) + v
        check(merged == {"tool_used": 2, "page_view": 1, "risk_mode_changed": 1}, f"event_counts: {merged}")
        risk = {}
        for row in doc["rollups"]:
            for k, v in row["risk_distribution"].items():
                risk[k] = risk.get(k, 0) + v
        check(risk == {"protect": 1, "aggressive": 1}, f"risk_distribution: {risk}")
        check(sum(r["unique_sessions"] for r in doc["rollups"]) >= doc["total_sessions"], "per-hour sessions")
    code, _, raw = request(port, "GET", "/api/analytics/rollups")
    check(code == 200 and jbody(raw) and jbody(raw)["hours"] == 24, "rollups default to 24 hours")

    # CORS preflight (fetch with application/json), and an origin not allowed.
    code, hdrs, _ = request(port, "OPTIONS", track, None,
                            {"Origin": ORIGIN, "Access-Control-Request-Method": "POST",
                             "Access-Control-Request-Headers": "content-type"})
    check(code == 204 and hdrs.get("Access-Control-Allow-Origin") == ORIGIN and
          "POST" in hdrs.get("Access-Control-Allow-Methods", ""), f"preflight: {code} {hdrs}")
    code, hdrs, _ = request(port, "GET", "/api/analytics/rollups", None, {"Origin": "http://evil.example"})
    check("Access-Control-Allow-Origin" not in hdrs, "no CORS for another origin")

    code, _, raw = request(port, "GET", "/health")
    check(code == 200 and jbody(raw) is not None, f"/health: {code}")
    code, _, raw = request(port, "GET", "/metrics")
    text = raw.decode()
    for name in ("cocktail_usage_events_accepted_total 5", 'cocktail_usage_events_refused_total{reason="invalid"}',
                 "cocktail_usage_write_batch_size_count", "cocktail_usage_database_bytes",
                 'cocktail_usage_retention_deleted_total{table="events"}', "cocktail_usage_write_seconds_count"):
        check(name in text, f"/metrics has {name}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
