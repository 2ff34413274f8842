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


def main(root):
    doc = openapi_doc.load(root)
    problems = openapi_doc.unresolved_refs(doc)

    documented = set()
    for method, path, op in openapi_doc.tagged_operations(doc, "usage"):
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
    return openapi_doc.report("usage", "usage_routes.cc", documented, routed, problems)


if __name__ == "__main__":
    sys.exit(main(pathlib.Path(sys.argv[1])))
