"""The API reference at /api/v1/docs: the OpenAPI document rendered as one plain page, served here.

No CDN and no script: the same document tools read at /api/v1/openapi.json, laid out for people.
"""
from __future__ import annotations

from flask import Blueprint, current_app, render_template

bp = Blueprint("api_docs", __name__)


def _resolve(spec: dict, node):
    """Follow a local $ref (#/components/...) one step."""
    if isinstance(node, dict) and "$ref" in node:
        target = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target.get(part, {})
        return target
    return node


def _schema_rows(spec: dict, schema) -> list[dict]:
    """A schema's fields as rows (name, type, required, notes); nested schemas are linked by name."""
    schema = _resolve(spec, schema) or {}
    rows: list[dict] = []
    required = set(schema.get("required", []))
    for name, prop in (schema.get("properties") or {}).items():
        ref_name = prop.get("$ref", "").rsplit("/", 1)[-1] if "$ref" in prop else ""
        prop = _resolve(spec, prop)
        kind = prop.get("type", "object" if ref_name else "")
        if kind == "array":
            items = prop.get("items", {})
            inner = items.get("$ref", "").rsplit("/", 1)[-1] or _resolve(spec, items).get("type", "")
            kind = f"array of {inner}" if inner else "array"
        notes = []
        if prop.get("enum"):
            notes.append("one of " + ", ".join(str(v) for v in prop["enum"] if v not in ("", None)))
        for key, word in (("minimum", "≥"), ("maximum", "≤"), ("minLength", "length ≥"), ("maxLength", "length ≤")):
            if key in prop:
                notes.append(f"{word} {prop[key]}")
        if prop.get("readOnly"):
            notes.append("read-only")
        if prop.get("nullable"):
            notes.append("may be null")
        if prop.get("description"):
            notes.append(prop["description"])
        rows.append({"name": name, "type": ref_name or kind, "required": name in required, "notes": "; ".join(notes)})
    return rows


def reference(spec: dict) -> list[dict]:
    """Operations grouped by tag, in the document's order."""
    groups: dict[str, dict] = {t["name"]: {"name": t["name"], "description": t.get("description", ""),
                                           "operations": []} for t in spec.get("tags", [])}
    for path, item in spec.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method in ("get", "post", "put", "patch", "delete"):
            operation = item.get(method)
            if not operation:
                continue
            body = (operation.get("requestBody") or {}).get("content", {}).get("application/json", {})
            responses = []
            for code, response in operation.get("responses", {}).items():
                response = _resolve(spec, response)
                schema = (response.get("content") or {})
                media = next(iter(schema), "")
                shape = schema.get(media, {}).get("schema", {}) if media else {}
                responses.append({"code": code, "description": response.get("description", ""), "media": media,
                                  "schema": shape.get("$ref", "").rsplit("/", 1)[-1],
                                  "rows": _schema_rows(spec, shape) if code.startswith("2") else []})
            params = [_resolve(spec, p) for p in shared + operation.get("parameters", [])]
            tag = (operation.get("tags") or ["Other"])[0]
            groups.setdefault(tag, {"name": tag, "description": "", "operations": []})["operations"].append({
                "method": method.upper(), "path": path, "summary": operation.get("summary", ""),
                "description": operation.get("description", ""), "id": operation.get("operationId") or
                f"{method}-{path}".replace("/", "-").replace("{", "").replace("}", ""),
                "parameters": [{"name": p.get("name"), "in": p.get("in"), "required": p.get("required", False),
                                "type": (p.get("schema") or {}).get("type", ""),
                                "description": p.get("description", "")} for p in params],
                "body_schema": body.get("schema", {}).get("$ref", "").rsplit("/", 1)[-1],
                "body_rows": _schema_rows(spec, body.get("schema", {})) if body else [],
                "responses": responses,
            })
    return [g for g in groups.values() if g["operations"]]


@bp.get("/api/v1/docs")
def index():
    spec = current_app.extensions["abm-api"].spec.to_dict()
    return render_template("api/docs.html", spec=spec, groups=reference(spec))
