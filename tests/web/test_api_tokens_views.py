"""Integrations → API tokens: make one (shown once), see it listed, revoke it; admins see everyone's."""
from abmcontent import api_tokens
from tests.conftest import NOW, csrf_token_from, login, make_user


def _create(client, **form):
    page = client.get("/integrations/tokens")
    data = {"name": "Salesforce sync", "scope": "write", "expires": "90",
            "csrf_token": csrf_token_from(page.get_data(as_text=True)), **form}
    return client.post("/integrations/tokens", data=data)


def test_a_new_token_is_shown_once_and_works(client):
    user = make_user("campaign")
    login(client, user)
    response = _create(client)
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    secret = html.split('id="token-secret"')[1].split('value="')[1].split('"')[0]
    token = api_tokens.authenticate(secret, NOW)
    assert token.user_id == user.id and token.scope == "write" and token.expires_at is not None
    listing = client.get("/integrations/tokens").get_data(as_text=True)
    assert "Salesforce sync" in listing and token.prefix in listing and secret not in listing


def test_a_nameless_token_re_renders_the_form_with_the_error(client):
    login(client, make_user("sales"))
    response = _create(client, name="  ")
    assert response.status_code == 422
    assert 'aria-invalid="true"' in response.get_data(as_text=True)
    assert api_tokens.tokens_of(make_user("sales").id) == []


def test_revoking_from_the_page_stops_the_token(client):
    user = make_user("sales")
    made = api_tokens.create(user.id, "laptop", "read", NOW)
    login(client, user)
    page = client.get("/integrations/tokens").get_data(as_text=True)
    response = client.post(f"/integrations/tokens/{made.token.id}/revoke", data={"csrf_token": csrf_token_from(page)})
    assert response.status_code == 303
    assert api_tokens.authenticate(made.secret, NOW) is None


def test_a_rep_cannot_revoke_someone_elses_token_but_an_admin_can(client):
    owner = make_user("sales")
    made = api_tokens.create(owner.id, "phone", "read", NOW)
    login(client, make_user("sales"))
    page = client.get("/integrations/tokens").get_data(as_text=True)
    assert "phone" not in page
    assert client.post(f"/integrations/tokens/{made.token.id}/revoke",
                       data={"csrf_token": csrf_token_from(page)}).status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token_from(page)})
    login(client, make_user("admin"))
    page = client.get("/integrations/tokens").get_data(as_text=True)
    assert "phone" in page and owner.display_name in page
    client.post(f"/integrations/tokens/{made.token.id}/revoke", data={"csrf_token": csrf_token_from(page)})
    assert api_tokens.authenticate(made.secret, NOW) is None


def test_the_tokens_page_needs_a_sign_in(client):
    assert client.get("/integrations/tokens").status_code == 302
