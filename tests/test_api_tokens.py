"""Personal API tokens: shown once, stored hashed, scoped, expiring and revocable."""
from datetime import timedelta

import pytest

from abmcontent import api_tokens
from abmcontent.errors import PermissionDenied, ValidationError
from abmcontent.extensions import db
from abmcontent.models import ApiToken
from tests.conftest import NOW, make_user


def test_a_token_is_stored_only_as_its_hash(app):
    user = make_user("campaign")
    made = api_tokens.create(user.id, "CRM sync", "read", NOW)
    assert made.secret.startswith("abm_") and len(made.secret) >= 40
    row = db.session.get(ApiToken, made.token.id)
    assert made.secret not in (row.token_hash, row.prefix)
    assert row.prefix == made.secret[:12]
    assert api_tokens.authenticate(made.secret, NOW).id == row.id


def test_unknown_changed_revoked_and_expired_tokens_do_not_authenticate(app):
    user = make_user("campaign")
    live = api_tokens.create(user.id, "live", "write", NOW)
    assert api_tokens.authenticate(live.secret[:-1] + ("A" if live.secret[-1] != "A" else "B"), NOW) is None
    assert api_tokens.authenticate("", NOW) is None
    assert api_tokens.authenticate("Bearer " + live.secret, NOW) is None

    expiring = api_tokens.create(user.id, "short", "read", NOW, expires_in_days=1)
    assert api_tokens.authenticate(expiring.secret, NOW + timedelta(hours=23)) is not None
    assert api_tokens.authenticate(expiring.secret, NOW + timedelta(days=1)) is None

    api_tokens.revoke(live.token.id, user, NOW)
    assert api_tokens.authenticate(live.secret, NOW) is None
    assert api_tokens.status(db.session.get(ApiToken, live.token.id), NOW) == "revoked"


def test_a_deactivated_users_tokens_stop_working(app):
    user = make_user("sales")
    made = api_tokens.create(user.id, "phone", "read", NOW)
    user.active = False
    db.session.commit()
    assert api_tokens.authenticate(made.secret, NOW) is None


def test_last_used_is_written_at_most_once_a_minute(app):
    user = make_user("campaign")
    made = api_tokens.create(user.id, "busy", "read", NOW)
    api_tokens.authenticate(made.secret, NOW)
    api_tokens.authenticate(made.secret, NOW + timedelta(seconds=30))
    assert db.session.get(ApiToken, made.token.id).last_used_at == NOW
    api_tokens.authenticate(made.secret, NOW + timedelta(seconds=61))
    assert db.session.get(ApiToken, made.token.id).last_used_at == NOW + timedelta(seconds=61)


def test_read_tokens_only_read(app):
    user = make_user("campaign")
    read = api_tokens.create(user.id, "r", "read", NOW).token
    write = api_tokens.create(user.id, "w", "write", NOW).token
    assert api_tokens.allows(read, "read") and not api_tokens.allows(read, "write")
    assert api_tokens.allows(write, "read") and api_tokens.allows(write, "write")


def test_a_token_needs_a_name_and_a_known_scope(app):
    user = make_user("campaign")
    with pytest.raises(ValidationError) as error:
        api_tokens.create(user.id, "  ", "admin", NOW, expires_in_days=0)
    assert set(error.value.errors) == {"name", "scope", "expires_in_days"}


def test_only_the_owner_or_an_admin_revokes_a_token(app):
    owner, other, admin = make_user("sales"), make_user("sales"), make_user("admin")
    made = api_tokens.create(owner.id, "mine", "read", NOW)
    with pytest.raises(PermissionDenied):
        api_tokens.revoke(made.token.id, other, NOW)
    assert api_tokens.revoke(made.token.id, admin, NOW).revoked_at == NOW


def test_flask_tokens_create_prints_the_token_once_and_it_works(app, runner):
    user = make_user("campaign", email="ops@example.com")
    result = runner.invoke(args=["tokens", "create", "--user", "OPS@example.com", "--scope", "write",
                                 "--name", "CRM"])
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip().splitlines()[0]
    token = api_tokens.authenticate(secret, NOW)
    assert token.user_id == user.id and token.scope == "write" and token.name == "CRM"

    listed = runner.invoke(args=["tokens", "list", "--user", "ops@example.com"])
    assert token.prefix in listed.output and secret not in listed.output
    revoked = runner.invoke(args=["tokens", "revoke", str(token.id)])
    assert revoked.exit_code == 0 and api_tokens.authenticate(secret, NOW) is None


def test_flask_tokens_create_for_an_unknown_user_fails_in_words(app, runner):
    result = runner.invoke(args=["tokens", "create", "--user", "nobody@example.com"])
    assert result.exit_code != 0 and "no user with the email" in result.output
