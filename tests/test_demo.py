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


def test_the_demo_fills_the_results_page_once(app):
    from datetime import timedelta

    from abmcontent import kpis
    from abmcontent.models import Deal

    demo.load(app.config["CONTENT_FOLDER"], NOW, app.config["UPLOAD_FOLDER"])
    deals = Deal.query.count()
    demo.load(app.config["CONTENT_FOLDER"], NOW, app.config["UPLOAD_FOLDER"])
    assert Deal.query.count() == deals > 0
    board = kpis.dashboard(kpis.Scope(NOW.date() - timedelta(days=119), NOW.date()))
    assert not board.empty
    assert board.kpis["mqas"].value > 0 and board.kpis["revenue"].value > 0 and board.kpis["close_rate"].value
    assert board.kpis["cost_per_lead"].value and kpis.comparison(board.scope)["abm"].roi is not None
