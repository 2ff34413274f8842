#!/usr/bin/python3
"""Checks proto/openapi.yaml against catalog-api's router: the document
parses, every $ref resolves, the (method, path) pairs tagged `catalog` are
exactly the routes libs/catalog_service/src/catalog_routes.cc registers, and
every write route requires the bearer token and documents 400, 401 and 503.

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
    for method, path, op in openapi_doc.tagged_operations(doc, "catalog"):
        documented.add((method, path))
        if method != "get":
            if op.get("security") != [{"bearer": []}]:
                problems.append(f"{method.upper()} {path}: no bearer security")
            for status in ("400", "401", "503"):
                if status not in op.get("responses", {}):
                    problems.append(f"{method.upper()} {path}: {status} not documented")

    source = (root / "libs" / "catalog_service" / "src" / "catalog_routes.cc").read_text()
    routed = {(m.group(1).rstrip("_"), m.group(2))
              for m in re.finditer(r'Method::(\w+),\s*"(/api/v1/[^"]+)"', source)}
    return openapi_doc.report("catalog", "catalog_routes.cc", documented, routed, problems)


if __name__ == "__main__":
    sys.exit(main(pathlib.Path(sys.argv[1])))
