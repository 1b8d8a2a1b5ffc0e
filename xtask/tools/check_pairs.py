"""Checks recorded request/response pairs against the spec with openapi-core.

Usage: check_pairs.py SPEC PAIRS_JSONL

The pairs come from the Rust end-to-end test `tests/e2e/recorded_pairs.rs` (the
simulator records them). Every response must match the spec. Every request must too,
except those answered `000-002` ("a parameter or the URL is invalid"): those must
violate it. Every operation must have been seen with `0` and with each return code its
`x-ccgw-retcodes` lists. Exit status 1 on any failure, naming the operation and, from
the validator, the field.
"""

import json
import re
import sys
from urllib.parse import parse_qsl

import yaml
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse


# Return codes that answer invalid input: their requests need not match the spec.
INVALID_INPUT = {"000-002", "100-001", "100-011"}


def operations(spec):
    """(regex, method, operationId, documented codes) for every operation."""
    found = []
    for path, item in spec["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"
        for method, op in item.items():
            if method not in ("get", "put", "post", "delete"):
                continue
            codes = {c["code"] for c in op.get("x-ccgw-retcodes", [])}
            found.append((re.compile(pattern), method, op["operationId"], codes, op))
    return found


def resolve(spec, schema):
    while isinstance(schema, dict) and "$ref" in schema:
        node = spec
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema if isinstance(schema, dict) else {}


def declared(spec, schema):
    """Property name -> schema for an object schema and its allOf/anyOf/oneOf branches;
    None when the schema allows any properties (no properties declared anywhere)."""
    schema = resolve(spec, schema)
    props = dict(schema.get("properties", {}))
    open_ended = "properties" not in schema
    for key in ("allOf", "anyOf", "oneOf"):
        for branch in schema.get(key, []):
            more = declared(spec, branch)
            if more is None:
                continue
            open_ended = False
            for name, sub in more.items():
                props.setdefault(name, sub)
    return None if open_ended and not props else props


def undocumented(spec, value, schema, path):
    """Fields in `value` that `schema` does not declare (the simulator may send only
    documented fields, so a field renamed in the spec shows up here)."""
    found = []
    if isinstance(value, dict):
        props = declared(spec, schema)
        if props is None:
            return found
        for name, sub in value.items():
            where = f"{path}.{name}" if path else name
            if name not in props:
                found.append(where)
            else:
                found.extend(undocumented(spec, sub, props[name], where))
    return found


def response_schema(spec, op):
    content = resolve(spec, op["responses"].get("200", {})).get("content", {})
    return content.get("application/json", {}).get("schema")


def causes(error):
    """The validator's error and its causes, down to the schema error naming the field."""
    parts = []
    while error is not None:
        parts.append(str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__)
        inner = getattr(error, "schema_errors", None)
        if inner:
            parts.extend(f"{'/'.join(map(str, e.path)) or '(body)'}: {e.message}" for e in inner)
        error = error.__cause__ or error.__context__
    return "; ".join(dict.fromkeys(parts))


def main():
    spec_path, pairs_path = sys.argv[1], sys.argv[2]
    with open(spec_path, encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    openapi = OpenAPI.from_file_path(spec_path)
    ops = operations(spec)
    seen = {op_id: set() for _, _, op_id, _, _ in ops}
    failures = []
    pairs = 0
    with open(pairs_path, encoding="utf-8") as f:
        for line in f:
            pair = json.loads(line)
            pairs += 1
            method = pair["method"].lower()
            match = [(op_id, op) for rx, m, op_id, _, op in ops if m == method and rx.match(pair["path"])]
            label = f"{method.upper()} {pair['path']}"
            if not match:
                failures.append(f"{label}: no operation in the spec")
                continue
            op_id, op = match[0]
            headers = {k: v for k, v in pair["request_headers"].items()}
            host = headers.get("host", "127.0.0.1")
            request = MockRequest(
                f"https://{host}",
                method,
                pair["path"],
                args=dict(parse_qsl(pair["query"])),
                headers=headers,
                data=pair["request_body"].encode() or None,
                content_type=headers.get("content-type", "application/json").split(";")[0],
            )
            status = pair["status"]
            body = pair["response_body"]
            retcode = None
            if status == 200:
                try:
                    retcode = json.loads(body).get("retcode")
                except ValueError:
                    failures.append(f"{op_id} ({label}): the answer is not JSON")
                    continue
            seen[op_id].add(retcode if retcode is not None else f"HTTP {status}")
            response = MockResponse(
                body.encode(),
                status_code=status,
                headers=pair["response_headers"],
                content_type=pair["response_headers"].get("content-type", "application/json").split(";")[0],
            )
            try:
                openapi.validate_request(request)
                request_ok = None
            except Exception as error:  # openapi-core raises one class per problem
                request_ok = causes(error)
            if retcode not in INVALID_INPUT and request_ok is not None:
                failures.append(f"{op_id} ({label}): request does not match the spec: {request_ok}")
            try:
                openapi.validate_response(request, response)
            except Exception as error:
                failures.append(f"{op_id} ({label}), answer retcode {retcode}: response does not match the spec: {causes(error)}")
            if status == 200:
                for field in undocumented(spec, json.loads(body), response_schema(spec, op), ""):
                    failures.append(f"{op_id} ({label}), answer retcode {retcode}: field {field!r} is not in the spec")

    for _, _, op_id, codes, _ in ops:
        missing = sorted((codes | {"0"}) - seen[op_id])
        if missing:
            failures.append(f"{op_id}: no recorded answer with {', '.join(missing)}")
    documented = sum(len(codes | {"0"}) for _, _, _, codes, _ in ops)
    covered = sum(len((codes | {"0"}) & seen[op_id]) for _, _, op_id, codes, _ in ops)
    print(f"openapi-core: {pairs} recorded pairs, {len(ops)} operations, {covered}/{documented} documented return codes seen")
    for failure in failures:
        print(f"FAIL {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
