"""Calling the JSON API in tests: a user with a token, and a client that sends it."""
from __future__ import annotations

from dataclasses import dataclass

from abmcontent import api_tokens
from tests.conftest import NOW, make_user


@dataclass
class Caller:
    client: object
    user: object
    secret: str

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.secret}"}

    def get(self, path, **kw):
        return self.client.get(path, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def post(self, path, json=None, **kw):
        return self.client.post(path, json=json, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def put(self, path, json=None, **kw):
        return self.client.put(path, json=json, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def patch(self, path, json=None, **kw):
        return self.client.patch(path, json=json, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def delete(self, path, **kw):
        return self.client.delete(path, headers={**self.headers, **kw.pop("headers", {})}, **kw)


def caller(client, role: str = "campaign", scope: str = "write", user=None, **user_overrides) -> Caller:
    """A new user of `role` (or `user`) with a fresh token of `scope`, calling through `client`."""
    user = user or make_user(role, **user_overrides)
    made = api_tokens.create(user.id, f"{role} test", scope, NOW)
    return Caller(client=client, user=user, secret=made.secret)


def assert_problem(response, status: int, field: str | None = None) -> dict:
    """An RFC 9457 problem of this status (and naming `field` among its errors)."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    body = response.get_json(force=True)
    assert body["status"] == status and body["title"] and body["type"]
    if field is not None:
        assert field in {e["field"] for e in body.get("errors", [])}, body
    return body
