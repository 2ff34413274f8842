#!/usr/bin/python3
"""Checks proto/: every schema is a valid JSON Schema, every example under
proto/examples/ is accepted by its schema, and every example under
proto/examples/invalid/ is rejected.

An example's schema is named by its file name: "<schema>.json" or
"<schema>.<variant>.json", where <schema> is a topic (proto/events/<topic>.schema.json)
or "manifest" (proto/snapshot/manifest.schema.json).

Usage: validate_examples.py <proto dir>. Exit status 0 when all checks pass.
"""
import json
import pathlib
import sys

import jsonschema


def load_schemas(proto):
    schemas = {}
    for path in sorted((proto / "events").glob("*.schema.json")):
        schemas[path.name[: -len(".schema.json")]] = path
    schemas["manifest"] = proto / "snapshot" / "manifest.schema.json"
    return schemas


def schema_for(example, schemas):
    stem = example.name[: -len(".json")]
    matches = [name for name in schemas if stem == name or stem.startswith(name + ".")]
    return max(matches, key=len) if matches else None


def main():
    proto = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "proto")
    schemas = load_schemas(proto)
    validators = {}
    failures = []
    for name, path in schemas.items():
        schema = json.loads(path.read_text())
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        if cls is not jsonschema.Draft202012Validator:
            failures.append(f"{path}: expected a draft 2020-12 schema")
        validators[name] = cls(schema)

    valid = sorted((proto / "examples").glob("*.json"))
    invalid = sorted((proto / "examples" / "invalid").glob("*.json"))
    if not valid or not invalid:
        failures.append("no examples found")
    seen = set()
    for path, should_pass in [(p, True) for p in valid] + [(p, False) for p in invalid]:
        name = schema_for(path, schemas)
        if name is None:
            failures.append(f"{path}: no schema matches this file name")
            continue
        seen.add(name)
        errors = list(validators[name].iter_errors(json.loads(path.read_text())))
        if should_pass and errors:
            failures.append(f"{path}: rejected by {name}: {errors[0].message}")
        elif not should_pass and not errors:
            failures.append(f"{path}: accepted by {name} but must be rejected")
        else:
            verdict = "ok" if should_pass else f"rejected as expected ({errors[0].message})"
            print(f"{path.relative_to(proto)}: {verdict}")
    for name in schemas:
        if name not in seen:
            failures.append(f"schema {name} has no example")

    for failure in failures:
        print("FAIL", failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
