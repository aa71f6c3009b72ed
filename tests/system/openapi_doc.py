"""docs/openapi.yaml for tests: load it, list its operations, validate bodies against it.

Python 3.11 standard library only (PyYAML is used by scripts/openapi_json.py when present, and
its own restricted-YAML parser otherwise).

    load()                      the document, converted from docs/openapi.yaml
    load(data=raw_bytes)        the document from the bytes of GET /v1/openapi.json
    operations(doc)             {("GET", "/v1/staff/{id}"), ...}
    operation(doc, m, t)        the Operation Object of method m on template t
    match(doc, m, path)         the template a concrete path ("/v1/staff/7") is served under
    response_schema(doc, m, t, status, media)
                                the schema of a documented response (None: no body)
    validate(inst, schema, doc, strict=False)
                                list of problems ("" path = the root); [] when valid. strict:
                                an object member no schema mentions is a problem too
    code_routes(root)           {(METHOD, template): access} from the route tables in src/http/

`python3 tests/system/openapi_doc.py` checks the document itself: both YAML parsers agree,
every $ref resolves, operationIds are unique camelCase, tags and path parameters are declared,
the security of each operation fits its `x-appointd-key`, and the operations are exactly the
routes of src/http/ (when the sources are there). Its last line is "N passed, M failed".
"""
from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import sys
from typing import Any, Iterable

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
YAML_PATH = os.path.join(REPO, "docs", "openapi.yaml")
CONVERTER = os.path.join(REPO, "scripts", "openapi_json.py")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def _converter():
    spec = importlib.util.spec_from_file_location("openapi_json", CONVERTER)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def load(path: str | None = None, *, data: bytes | str | None = None,
         parser: str = "auto") -> dict:
    """The OpenAPI document: parsed from `data` (JSON, e.g. the body of GET /v1/openapi.json),
    read from `path` (.json as is, anything else as YAML), or converted from docs/openapi.yaml
    by scripts/openapi_json.py (parser "auto", "yaml" or "builtin")."""
    if data is not None:
        return json.loads(data)
    path = path or YAML_PATH
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if path.endswith(".json"):
        return json.loads(text)
    conv = _converter()
    # Through the JSON text, as the server would embed it: only JSON values survive.
    return json.loads(conv.to_json(conv.load_yaml(text, parser)))


def operations(doc: dict) -> set[tuple[str, str]]:
    """Every (METHOD, path template) the document describes."""
    return {(m.upper(), p) for p, item in doc.get("paths", {}).items()
            for m in item if m in METHODS}


def operation(doc: dict, method: str, template: str) -> dict:
    return doc["paths"][template][method.lower()]


def _template_regex(template: str) -> re.Pattern:
    parts = re.split(r"(\{[^}/]+\})", template)
    return re.compile("^" + "".join("[^/]+" if p.startswith("{") else re.escape(p)
                                    for p in parts if p) + "$")


def match(doc: dict, method: str, path: str) -> str | None:
    """The template under which `path` (no query) is served for `method`, or None."""
    path = path.split("?", 1)[0]
    for template, item in doc.get("paths", {}).items():
        if method.lower() in item and _template_regex(template).match(path):
            return template
    return None


def resolve(doc: dict, ref: str) -> Any:
    """The target of a local $ref ("#/components/schemas/X"); KeyError when it has none."""
    if not ref.startswith("#"):
        raise KeyError(f"only local references are supported: {ref}")
    node: Any = doc
    for raw in ref[1:].split("/")[1:]:
        key = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list):
            node = node[int(key)]
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            raise KeyError(f"unresolved $ref {ref}")
    return node


def _deref(doc: dict, obj: Any) -> Any:
    while isinstance(obj, dict) and "$ref" in obj and len(obj) == 1:
        obj = resolve(doc, obj["$ref"])
    return obj


def response_schema(doc: dict, method: str, template: str, status: int | str,
                    media: str | None = None) -> dict | None:
    """The schema of the documented response `status` (KeyError when undocumented); None when
    that response has no body. `media` defaults to the response's only (or first) media type."""
    responses = operation(doc, method, template)["responses"]
    key = str(status)
    if key not in responses:
        key = f"{key[0]}XX" if f"{key[0]}XX" in responses else "default"
    resp = _deref(doc, responses[key])
    content = resp.get("content")
    if not content:
        return None
    if media is None:
        media = next(iter(content))
    return content[media].get("schema", {})


# ---- the validator ---------------------------------------------------------------------------

_DATE_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _type_ok(inst: Any, t: str) -> bool:
    if t == "null":
        return inst is None
    if t == "boolean":
        return isinstance(inst, bool)
    if t == "integer":
        return (isinstance(inst, int) and not isinstance(inst, bool)) or \
            (isinstance(inst, float) and inst.is_integer())
    if t == "number":
        return isinstance(inst, (int, float)) and not isinstance(inst, bool)
    if t == "string":
        return isinstance(inst, str)
    if t == "array":
        return isinstance(inst, list)
    if t == "object":
        return isinstance(inst, dict)
    raise ValueError(f"unknown type {t!r} in schema")


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: booleans are not numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def _known_properties(schema: Any, doc: dict, seen: set[int]) -> set[str] | None:
    """Every member name the schema mentions through $ref, allOf, anyOf and oneOf; None when
    some part allows other members (additionalProperties or patternProperties)."""
    if not isinstance(schema, dict) or id(schema) in seen:
        return set()
    seen.add(id(schema))
    if schema.get("additionalProperties", False) is not False or "patternProperties" in schema:
        return None
    out = set(schema.get("properties", {}))
    parts = [resolve(doc, schema["$ref"])] if "$ref" in schema else []
    for k in ("allOf", "anyOf", "oneOf"):
        parts += schema.get(k, [])
    for p in parts:
        more = _known_properties(p, doc, seen)
        if more is None:
            return None
        out |= more
    return out


def _ptr(path: str, key: Any) -> str:
    return f"{path}/{str(key).replace('~', '~0').replace('/', '~1')}"


def _check(inst: Any, schema: Any, doc: dict, path: str, errs: list[str], strict: bool,
           top: bool) -> None:
    if schema is True or schema == {}:
        return
    if schema is False:
        errs.append(f"{path or '/'}: no value is allowed here")
        return
    if "$ref" in schema:
        _check(inst, resolve(doc, schema["$ref"]), doc, path, errs, strict, False)
    where = path or "/"
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_type_ok(inst, t) for t in types):
            errs.append(f"{where}: {json.dumps(inst)[:80]} is not of type {' or '.join(types)}")
            return
    if "const" in schema and not _equal(inst, schema["const"]):
        errs.append(f"{where}: {json.dumps(inst)[:80]} is not {json.dumps(schema['const'])}")
    if "enum" in schema and not any(_equal(inst, e) for e in schema["enum"]):
        errs.append(f"{where}: {json.dumps(inst)[:80]} is not one of {json.dumps(schema['enum'])}")
    if isinstance(inst, str):
        n = len(inst)
        if "minLength" in schema and n < schema["minLength"]:
            errs.append(f"{where}: shorter than {schema['minLength']} characters")
        if "maxLength" in schema and n > schema["maxLength"]:
            errs.append(f"{where}: longer than {schema['maxLength']} characters")
        if "pattern" in schema and not re.search(schema["pattern"], inst):
            errs.append(f"{where}: {inst[:80]!r} does not match {schema['pattern']}")
        fmt = schema.get("format")
        if fmt == "date-time" and not _DATE_TIME.match(inst):
            errs.append(f"{where}: {inst[:80]!r} is not an RFC 3339 date-time")
        if fmt == "date" and not _DATE.match(inst):
            errs.append(f"{where}: {inst[:80]!r} is not a date")
    if isinstance(inst, (int, float)) and not isinstance(inst, bool):
        if "minimum" in schema and inst < schema["minimum"]:
            errs.append(f"{where}: {inst} is below {schema['minimum']}")
        if "maximum" in schema and inst > schema["maximum"]:
            errs.append(f"{where}: {inst} is above {schema['maximum']}")
        if isinstance(inst, float) and not math.isfinite(inst):
            errs.append(f"{where}: not a finite number")
    if isinstance(inst, list):
        if "minItems" in schema and len(inst) < schema["minItems"]:
            errs.append(f"{where}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(inst) > schema["maxItems"]:
            errs.append(f"{where}: more than {schema['maxItems']} items")
        if "items" in schema:
            for n, item in enumerate(inst):
                _check(item, schema["items"], doc, _ptr(path, n), errs, strict, True)
    if isinstance(inst, dict):
        for r in schema.get("required", []):
            if r not in inst:
                errs.append(f"{where}: the member {r!r} is missing")
        if "maxProperties" in schema and len(inst) > schema["maxProperties"]:
            errs.append(f"{where}: more than {schema['maxProperties']} members")
        props = schema.get("properties", {})
        for k, v in inst.items():
            if k in props:
                _check(v, props[k], doc, _ptr(path, k), errs, strict, True)
            elif "additionalProperties" in schema:
                ap = schema["additionalProperties"]
                if ap is False:
                    errs.append(f"{where}: the member {k!r} is not allowed")
                elif isinstance(ap, dict):
                    _check(v, ap, doc, _ptr(path, k), errs, strict, True)
            if "propertyNames" in schema:
                _check(k, schema["propertyNames"], doc, _ptr(path, k) + " (name)", errs, strict,
                       True)
        if strict and top:
            known = _known_properties(schema, doc, set())
            if known is not None:
                for k in inst:
                    if k not in known:
                        errs.append(f"{where}: the member {k!r} is not documented")
    for sub in schema.get("allOf", []):
        _check(inst, sub, doc, path, errs, strict, False)
    if "anyOf" in schema:
        branches = []
        for sub in schema["anyOf"]:
            e: list[str] = []
            _check(inst, sub, doc, path, e, strict, False)
            branches.append(e)
        if all(branches):
            errs.append(f"{where}: matches none of anyOf ({'; '.join(b[0] for b in branches)})")
    if "oneOf" in schema:
        branches = []
        for sub in schema["oneOf"]:
            e = []
            _check(inst, sub, doc, path, e, strict, False)
            branches.append(e)
        passed = sum(1 for b in branches if not b)
        if passed != 1:
            detail = "; ".join(b[0] for b in branches if b) if passed == 0 else "several match"
            errs.append(f"{where}: matches {passed} of oneOf, not exactly 1 ({detail})")


def validate(instance: Any, schema: Any, doc: dict, strict: bool = False) -> list[str]:
    """The ways `instance` breaks `schema` (a schema of `doc`, or {"$ref": ...}), as
    "<JSON pointer>: <problem>" strings; [] when it is valid. Covers the keywords the document
    uses: type (with lists and "null"), enum, const, properties, required,
    additionalProperties, propertyNames, maxProperties, items, minItems, maxItems, minLength,
    maxLength, pattern, minimum, maximum, format (date-time, date; loosely), $ref, allOf,
    anyOf, oneOf. `strict`: members that no part of the schema names are reported too (the
    encoder wrote something the document does not describe)."""
    errs: list[str] = []
    _check(instance, schema, doc, "", errs, strict, True)
    return errs


def validate_response(doc: dict, method: str, path: str, status: int, body: bytes | str | None,
                      content_type: str | None = None, strict: bool = False) -> list[str]:
    """Checks a real reply: its route and status are documented, and its body fits the schema
    of that response (by media type, parameters of the Content-Type ignored unless needed)."""
    template = match(doc, method, path)
    if template is None:
        return [f"{method} {path}: no documented operation"]
    responses = operation(doc, method, template)["responses"]
    if str(status) not in responses:
        return [f"{method} {template}: status {status} is not documented"]
    resp = _deref(doc, responses[str(status)])
    content = resp.get("content")
    if not content:
        return [] if not body else [f"{method} {template} {status}: a body where none is documented"]
    media = None
    if content_type:
        media = content_type if content_type in content else \
            next((m for m in content if m.split(";")[0] == content_type.split(";")[0]), None)
        if media is None:
            return [f"{method} {template} {status}: Content-Type {content_type} is not documented"]
    media = media or next(iter(content))
    schema = content[media].get("schema", {})
    if not media.split(";")[0].endswith("json"):
        return validate(body.decode() if isinstance(body, bytes) else body, schema, doc, strict)
    try:
        inst = json.loads(body)
    except (TypeError, ValueError):
        return [f"{method} {template} {status}: the body is not JSON"]
    return validate(inst, schema, doc, strict)


# ---- the route tables of the code ------------------------------------------------------------

_ROUTE = re.compile(r'\{\s*"([A-Z]+)"\s*,\s*"(/[^"]*)"\s*,\s*[^,]+,\s*Access::k(\w+)')
_ACCESS = {"Public": "none", "Signed": "signed", "Platform": "platform", "Company": "company"}


def code_routes(root: str = REPO) -> dict[tuple[str, str], str] | None:
    """{(METHOD, template): x-appointd-key} of every route registered in src/http/*.cpp, or None
    when the sources are not there."""
    src = os.path.join(root, "src", "http")
    if not os.path.isdir(src):
        return None
    out = {}
    for name in sorted(os.listdir(src)):
        if name.endswith(".cpp"):
            with open(os.path.join(src, name), encoding="utf-8") as f:
                for m in _ROUTE.finditer(f.read()):
                    out[(m.group(1), m.group(2))] = _ACCESS.get(m.group(3), m.group(3))
    return out


_CODE_PATTERNS = (
    re.compile(r'problem\(\s*\d{3}\s*,\s*"([a-z_]+)"'),      # problem(503, "unavailable", ...)
    re.compile(r'Rejection\{\s*\d{3}\s*,\s*"([a-z_]+)"'),   # the server's 408/413/431/400
    re.compile(r'unavailable\(\s*"([a-z_]+)"'),               # routes_sync.cpp's 503s
)


def code_problem_codes(root: str = REPO) -> set[str] | None:
    """The problem `code`s the sources can send: literal problem(status, "code", ...) calls in
    src/http/ and the names of domain/error.cpp's code_name(); None without the sources."""
    http_dir = os.path.join(root, "src", "http")
    error_cpp = os.path.join(root, "src", "domain", "error.cpp")
    if not os.path.isdir(http_dir) or not os.path.isfile(error_cpp):
        return None
    codes: set[str] = set()
    for name in os.listdir(http_dir):
        if name.endswith(".cpp"):
            with open(os.path.join(http_dir, name), encoding="utf-8") as f:
                text = f.read()
            for pat in _CODE_PATTERNS:
                codes.update(pat.findall(text))
    with open(error_cpp, encoding="utf-8") as f:
        text = f.read()
    body = text[text.index("const char* code_name("):]
    body = body[:body.index("\n}\n")]
    codes.update(re.findall(r'return "([a-z_]+)";', body))
    return codes


def code_version(root: str = REPO) -> str | None:
    """A version string defined in the sources (kVersion / appointd_version), or None."""
    src = os.path.join(root, "src")
    if not os.path.isdir(src):
        return None
    pat = re.compile(r'(?:kVersion|kAppointdVersion|appointd_version)\w*\s*(?:=|\{)\s*"([^"]+)"')
    for dirpath, _, files in os.walk(src):
        for name in files:
            if name.endswith((".h", ".cpp")):
                with open(os.path.join(dirpath, name), encoding="utf-8") as f:
                    m = pat.search(f.read())
                if m:
                    return m.group(1)
    return None


# ---- self-test -------------------------------------------------------------------------------

def _walk(node: Any, path: str = "") -> Iterable[tuple[str, Any]]:
    yield path, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, _ptr(path, k))
    elif isinstance(node, list):
        for n, v in enumerate(node):
            yield from _walk(v, _ptr(path, n))


def self_test() -> tuple[int, int]:
    passed = failed = 0

    def check(name: str, problems: list[str]) -> None:
        nonlocal passed, failed
        if problems:
            failed += 1
            print(f"FAIL {name}")
            for p in problems[:20]:
                print(f"     {p}")
            if len(problems) > 20:
                print(f"     ... {len(problems) - 20} more")
        else:
            passed += 1
            print(f"ok   {name}")

    conv = _converter()
    with open(YAML_PATH, encoding="utf-8") as f:
        text = f.read()
    try:
        doc = json.loads(conv.to_json(conv.parse_restricted(text)))
        check("the built-in parser reads docs/openapi.yaml", [])
    except ValueError as e:
        check("the built-in parser reads docs/openapi.yaml", [str(e)])
        return passed, failed
    if conv.have_pyyaml():
        diff = conv.first_difference(json.loads(conv.to_json(conv.parse_pyyaml(text))), doc)
        check("PyYAML reads the same document", [diff] if diff else [])
    else:
        print("skip PyYAML reads the same document (no PyYAML; Debian: python3-yaml)")

    problems = []
    if doc.get("openapi") != "3.1.0":
        problems.append(f"openapi is {doc.get('openapi')!r}")
    if doc.get("info", {}).get("title") != "appointd":
        problems.append("info.title is not appointd")
    version = code_version()
    if version is not None and doc["info"].get("version") != version:
        problems.append(f"info.version {doc['info'].get('version')!r} != the code's {version!r}")
    check("openapi 3.1.0, info" + (f" (code version {version})" if version else ""), problems)

    problems = []
    for where, node in _walk(doc):
        if isinstance(node, dict) and isinstance(node.get("$ref"), str):
            try:
                resolve(doc, node["$ref"])
            except (KeyError, IndexError, ValueError) as e:
                problems.append(f"{where}: {e}")
    check("every $ref resolves", problems)

    problems = []
    seen: dict[str, str] = {}
    declared_tags = {t["name"] for t in doc.get("tags", [])}
    schemes = set(doc.get("components", {}).get("securitySchemes", {}))
    for (method, template) in sorted(operations(doc)):
        op = operation(doc, method, template)
        name = f"{method} {template}"
        oid = op.get("operationId")
        if not oid or not re.fullmatch(r"[a-z][A-Za-z0-9]*", oid):
            problems.append(f"{name}: operationId {oid!r} is not camelCase")
        elif oid in seen:
            problems.append(f"{name}: operationId {oid} is also {seen[oid]}")
        else:
            seen[oid] = name
        tags = op.get("tags") or []
        if not tags or any(t not in declared_tags for t in tags):
            problems.append(f"{name}: tags {tags} not all declared")
        if not op.get("responses"):
            problems.append(f"{name}: no responses")
        params = list(doc["paths"][template].get("parameters", [])) + op.get("parameters", [])
        path_params = {_deref(doc, p)["name"] for p in params if _deref(doc, p)["in"] == "path"}
        wanted = set(re.findall(r"\{([^}]+)\}", template))
        if path_params != wanted:
            problems.append(f"{name}: path parameters {sorted(path_params)} != {sorted(wanted)}")
        key = op.get("x-appointd-key")
        security = op.get("security", doc.get("security"))
        used = {s for req in security or [] for s in req}
        if used - schemes:
            problems.append(f"{name}: unknown security schemes {sorted(used - schemes)}")
        if key == "none" and security != []:
            problems.append(f"{name}: a route without a key needs security: []")
        elif key == "signed" and (not used or "bearerApiKey" in used):
            problems.append(f"{name}: a signed webhook needs its signature scheme, not a key")
        elif key in ("platform", "company") and used != {"bearerApiKey"}:
            problems.append(f"{name}: a {key} route needs bearerApiKey")
        elif key not in ("none", "signed", "platform", "company"):
            problems.append(f"{name}: x-appointd-key {key!r}")
        for status, resp in op.get("responses", {}).items():
            resp = _deref(doc, resp)
            if not re.fullmatch(r"[1-5][0-9][0-9]", status):
                problems.append(f"{name}: response key {status!r}")
            if "X-Request-Id" not in resp.get("headers", {}):
                problems.append(f"{name} {status}: no X-Request-Id header")
            if status >= "400":
                if "application/problem+json" not in resp.get("content", {}):
                    problems.append(f"{name} {status}: not application/problem+json")
    check(f"{len(seen)} operations: unique camelCase operationIds, tags, path parameters, "
          "security, X-Request-Id, problem+json errors", problems)

    routes = code_routes()
    if routes is None:
        print("skip the operations are the routes of src/http/ (no sources)")
    else:
        documented = operations(doc)
        problems = [f"served but not documented: {m} {p}" for m, p in sorted(set(routes) - documented)]
        problems += [f"documented but not served: {m} {p}" for m, p in sorted(documented - set(routes))]
        for (m, p), access in sorted(routes.items()):
            if (m, p) in documented:
                key = operation(doc, m, p).get("x-appointd-key")
                if key != access:
                    problems.append(f"{m} {p}: x-appointd-key {key!r}, the code says {access!r}")
        check(f"the operations are the {len(routes)} routes of src/http/ with their access", problems)

    codes = code_problem_codes()
    if codes is None:
        print("skip every problem code of src/ is documented (no sources)")
    else:
        documented_codes = set(doc["components"]["schemas"]["Problem"]["properties"]["code"]["enum"])
        used_codes = set()
        for where, node in _walk(doc):
            if where.endswith("/code") and isinstance(node, dict) and "enum" in node \
                    and not where.startswith("/components/schemas/Problem/"):
                used_codes.update(node["enum"])
        problems = [f"sent by the code, missing from Problem.code: {c}"
                    for c in sorted(codes - documented_codes)]
        problems += [f"in Problem.code but never sent: {c}"
                     for c in sorted(documented_codes - codes - {"idempotency_key_in_flight"})]
        problems += [f"in Problem.code but in no response: {c}"
                     for c in sorted(documented_codes - used_codes - {
                         "method_not_allowed", "request_timeout", "headers_too_large",
                         "idempotency_key_in_flight"})]
        check(f"the {len(codes)} problem codes of src/ are documented and used", problems)

    # The schemas hold for a few hand-made bodies (the validator itself, on the document).
    samples = [
        ("Appointment", {"id": 1, "status": "booked", "version": 1, "customer_id": 2,
                         "branch_id": 1, "source": "api", "needs_attention": False, "notes": "",
                         "call_id": None, "segments": [{"id": 3, "staff_id": 1, "service_id": 2,
                                                        "start": "2026-12-01T08:00:00Z",
                                                        "end": "2026-12-01T08:30:00Z"}],
                         "created_at": "2026-11-01T08:00:00Z",
                         "updated_at": "2026-11-01T08:00:00Z"}, True),
        ("Appointment", {"id": 1, "status": "gone"}, False),
        ("CompanyCreated", {"id": 1, "name": "x", "timezone": "UTC", "country": "DE",
                            "slot_step_minutes": 15, "min_notice_minutes": 0, "horizon_days": 90,
                            "created_at": "2026-11-01T08:00:00Z", "api_key": "ak_1"}, True),
        ("CompanyCreated", {"id": 1, "name": "x", "timezone": "UTC", "country": "DE",
                            "slot_step_minutes": 15, "min_notice_minutes": 0, "horizon_days": 90,
                            "created_at": "2026-11-01T08:00:00Z"}, False),
        ("BookRequest", {"customer_id": 1, "customer": {"phone": "1"},
                         "segments": [{"staff_id": 1, "service_id": 1,
                                       "start": "2026-12-01T09:00:00+01:00"}]}, False),
        ("WeeklyHoursInput", {"mon": [["09:00", "12:00"]], "sat": None}, True),
        ("WeeklyHoursInput", {"monday": []}, False),
        ("SyncJob", {"id": 1, "appointment_id": 1, "action": "create", "version": 1,
                     "state": "failed", "attempts": 3, "next_attempt_at": "2026-11-01T08:00:00Z",
                     "last_error": None, "created_at": "2026-11-01T08:00:00Z"}, True),
    ]
    problems = []
    for name, inst, valid in samples:
        errs = validate(inst, {"$ref": f"#/components/schemas/{name}"}, doc, strict=True)
        if bool(errs) == valid:
            problems.append(f"{name} {json.dumps(inst)[:60]}: expected "
                            f"{'valid' if valid else 'invalid'}, got {errs or 'valid'}")
    check("the validator on sample bodies", problems)
    return passed, failed


if __name__ == "__main__":
    p, f = self_test()
    print(f"{p} passed, {f} failed")
    sys.exit(1 if f else 0)
