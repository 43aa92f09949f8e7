import pytest

from abmcontent import users
from abmcontent.errors import ValidationError
from abmcontent.models import User
from tests.conftest import NOW, PASSWORD, make_user


def test_passwords_are_stored_hashed_and_checked(app):
    user = make_user("sales", email="Sam@Example.com")
    assert user.email == "sam@example.com"
    assert PASSWORD not in user.password_hash
    assert users.authenticate("SAM@example.com ", PASSWORD) == user
    assert users.authenticate("sam@example.com", "wrong-password") is None
    assert users.authenticate("nobody@example.com", PASSWORD) is None


def test_inactive_users_cannot_sign_in(app):
    user = make_user()
    user.active = False
    assert users.authenticate(user.email, PASSWORD) is None


@pytest.mark.parametrize("email, role, password, field", [
    ("not-an-email", "sales", PASSWORD, "email"),
    ("a@b.example\r\nBcc: x@y.example", "sales", PASSWORD, "email"),
    ("a@b.example", "boss", PASSWORD, "role"),
    ("a@b.example", "sales", "short", "password"),
])
def test_bad_user_details_are_refused(app, email, role, password, field):
    with pytest.raises(ValidationError) as caught:
        users.create_user(email, role, password, NOW)
    assert field in caught.value.errors


def test_cli_creates_a_user_with_a_password_option(runner):
    result = runner.invoke(args=["users", "create", "Ana@Example.com", "--role", "campaign",
                                 "--password", "a-long-password"])
    assert result.exit_code == 0, result.output
    assert "Created ana@example.com (campaign)" in result.output
    assert User.query.filter_by(email="ana@example.com").one().role == "campaign"


def test_cli_asks_for_the_password_at_a_prompt(runner):
    result = runner.invoke(args=["users", "create", "bo@example.com", "--role", "sales"],
                           input="a-long-password\na-long-password\n")
    assert result.exit_code == 0, result.output
    assert users.authenticate("bo@example.com", "a-long-password") is not None


def test_cli_explains_a_refusal(runner):
    make_user("sales", email="dup@example.com")
    result = runner.invoke(args=["users", "create", "dup@example.com", "--role", "sales",
                                 "--password", "a-long-password"])
    assert result.exit_code == 1
    assert "already exists" in result.output
    bad_role = runner.invoke(args=["users", "create", "x@example.com", "--role", "boss",
                                   "--password", "a-long-password"])
    assert bad_role.exit_code == 2 and "boss" in bad_role.output
