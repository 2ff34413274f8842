"""proto/openapi.yaml as the route checks read it: the parsed document, its
$ref targets, and the refs that point nowhere.

Imported by the services' check_openapi.py scripts, which add this folder to
sys.path.
"""
import yaml


def load(root):
    """The parsed proto/openapi.yaml under the source dir `root` (a Path)."""
    return yaml.safe_load((root / "proto" / "openapi.yaml").read_text())


def resolve(doc, ref):
    """The node a local ref ("#/components/...") points at; KeyError or
    TypeError when it points nowhere."""
    node = doc
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def refs(node):
    """Every $ref value under `node`, depth first."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def unresolved_refs(doc):
    """One problem line per $ref in `doc` that does not resolve."""
    problems = []
    for ref in refs(doc):
        try:
            resolve(doc, ref)
        except (KeyError, TypeError):
            problems.append(f"unresolved $ref {ref}")
    return problems


METHODS = {"get", "post", "put", "delete"}


def tagged_operations(doc, tag):
    """(method, path, operation) for every operation of `doc` tagged `tag`."""
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in METHODS and tag in op.get("tags", []):
                yield method, path, op


def report(tag, source_name, documented, routed, problems):
    """Adds the served-but-undocumented and documented-but-unserved (method,
    path) pairs to `problems`, prints them with a summary line, and returns
    the exit status (0: no problems)."""
    for method, path in sorted(routed - documented):
        problems.append(f"{method.upper()} {path} is served but not documented")
    for method, path in sorted(documented - routed):
        problems.append(f"{method.upper()} {path} is documented but not served")
    if not routed:
        problems.append(f"no routes found in {source_name}")
    for p in problems:
        print(p)
    print(f"{len(documented)} {tag} operations, {len(routed)} routes, {len(problems)} problems")
    return 1 if problems else 0
