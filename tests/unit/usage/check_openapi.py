#!/usr/bin/python3
"""Checks proto/openapi.yaml against usage-api's router: the document parses,
every $ref resolves, the (method, path) pairs tagged `usage` are exactly the
routes libs/usage/src/usage_routes.cc registers, tracking takes no
credentials, and every usage operation documents 400 and 503 (500 for
tracking: an unacknowledged write).

Usage: check_openapi.py <source dir>. Exit status 0 when all checks pass.
"""
import pathlib
import re
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "support" / "python"))
import openapi_doc  # noqa: E402

METHODS = {"get", "post", "put", "delete"}


def main(root):
    doc = openapi_doc.load(root)
    problems = openapi_doc.unresolved_refs(doc)

    documented = set()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in METHODS and "usage" in op.get("tags", []):
                documented.add((method, path))
                responses = op.get("responses", {})
                for status in ("200", "400", "503"):
                    if status not in responses:
                        problems.append(f"{method.upper()} {path}: {status} not documented")
                if method == "post":
                    if op.get("security") != [{}]:
                        problems.append(f"POST {path}: tracking must say it needs no credentials (security: [{{}}])")
                    if "500" not in responses:
                        problems.append(f"POST {path}: 500 (not durable) not documented")

    source = (root / "libs" / "usage" / "src" / "usage_routes.cc").read_text()
    constants = dict(re.findall(r'constexpr const char\* (k\w+Path) = "([^"]+)"', source))
    routed = {(m.group(1), constants.get(m.group(2), m.group(2)))
              for m in re.finditer(r"Method::(\w+),\s*(k\w+Path)", source)}
    for method, path in sorted(routed - documented):
        problems.append(f"{method.upper()} {path} is served but not documented")
    for method, path in sorted(documented - routed):
        problems.append(f"{method.upper()} {path} is documented but not served")
    if not routed:
        problems.append("no routes found in usage_routes.cc")

    for p in problems:
        print(p)
    print(f"{len(documented)} usage operations, {len(routed)} routes, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(pathlib.Path(sys.argv[1])))
