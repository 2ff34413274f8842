#!/usr/bin/python3
"""Checks proto/openapi.yaml against analytics-api's router: the document
parses, every $ref resolves, the GET paths tagged `analytics` are exactly
the routes libs/read_service/src/read_api.cc registers, every snapshot
route documents 304, 400 and 503 and takes min_seq, and the paths tagged
`dashboard` are the dashboard's routes (libs/read_service/src/dashboard.cc).

Usage: check_openapi.py <source dir>. Exit status 0 when all checks pass.
"""
import pathlib
import re
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "support" / "python"))
import openapi_doc  # noqa: E402


def main(root):
    doc = openapi_doc.load(root)
    problems = openapi_doc.unresolved_refs(doc)

    documented = {}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method == "get" and "analytics" in op.get("tags", []):
                documented[path] = op
            elif isinstance(op, dict) and "analytics" in op.get("tags", []):
                problems.append(f"{method.upper()} {path}: analytics-api serves GET only")

    source = (root / "libs" / "read_service" / "src" / "read_api.cc").read_text()
    prefix = "/api/v1/analytics/"
    routed = {prefix + m.group(1) for m in re.finditer(r'prefix \+ "([^"]+)"', source)}
    loop = re.search(r'for \(const std::string type :\s*\{([^}]*)\}\)', source)
    if loop:
        routed |= {prefix + t for t in re.findall(r'"([^"]+)"', loop.group(1))}
    else:
        problems.append("the per-type route loop was not found in read_api.cc")
    routed |= set(re.findall(r'"(/api/v1/(?!analytics/)[^"]+)"', source))
    for path in sorted(routed - documented.keys()):
        problems.append(f"GET {path} is served but not documented")
    for path in sorted(documented.keys() - routed):
        problems.append(f"GET {path} is documented but not served")

    for path, op in documented.items():
        if path.endswith(("/status", "/stream")) or path.startswith("/api/v1/storage"):
            continue
        names = [openapi_doc.resolve(doc, p["$ref"])["name"] if "$ref" in p else p["name"]
                 for p in op.get("parameters", [])]
        if "min_seq" not in names:
            problems.append(f"GET {path}: min_seq not documented")
        for status in ("200", "304", "400", "503"):
            if status not in op.get("responses", {}):
                problems.append(f"GET {path}: {status} not documented")

    # The dashboard's routes (read_service/src/dashboard.cc) are tagged `dashboard`.
    pages = {path for path, item in doc["paths"].items()
             if any("dashboard" in op.get("tags", []) for op in item.values() if isinstance(op, dict))}
    dash_source = (root / "libs" / "read_service" / "src" / "dashboard.cc").read_text()
    dash_routed = set(re.findall(r'router\.add\(Method::get, "([^"]+)"', dash_source))
    prefix = re.search(r'kAssetPrefix = "([^"]+)"',
                       (root / "libs" / "read_service" / "include" / "cocktail" / "read_service"
                        / "dashboard.h").read_text())
    if prefix:
        dash_routed.add(prefix.group(1) + "{file}")
    else:
        problems.append("kAssetPrefix not found in dashboard.h")
    for path in sorted(dash_routed - pages):
        problems.append(f"dashboard route {path} is served but not documented")
    for path in sorted(pages - dash_routed):
        problems.append(f"dashboard route {path} is documented but not served")

    for p in problems:
        print(p)
    print(f"{len(documented)} analytics operations, {len(routed)} routes, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(pathlib.Path(sys.argv[1])))
