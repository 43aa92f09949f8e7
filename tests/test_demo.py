from abmcontent import demo
from abmcontent.models import Account, Asset, Contact, User
from tests.conftest import NOW


def test_demo_load_is_idempotent_and_gives_every_role_a_login(app, runner):
    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0, first.output
    counts = (User.query.count(), Account.query.count(), Contact.query.count(), Asset.query.count())
    second = demo.load(app.config["CONTENT_FOLDER"], NOW, app.config["UPLOAD_FOLDER"])
    assert (second.users_created, second.accounts_created, second.contacts_created) == (0, 0, 0)
    assert second.content.added == [] and second.content.invalid == []
    assert (User.query.count(), Account.query.count(), Contact.query.count(), Asset.query.count()) == counts
    assert {u.role for u in User.query} == {"admin", "marketer", "campaign", "sales"}
