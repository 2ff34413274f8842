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
