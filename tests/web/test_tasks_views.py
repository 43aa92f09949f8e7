"""My tasks: a sales rep sees their open tasks with talking points and closes them."""
from __future__ import annotations

from abmcontent import dispatch, plans
from abmcontent.extensions import db
from abmcontent.models import Contact
from tests.conftest import NOW, login, make_user
from tests.test_accounts import make_account


def test_a_rep_closes_a_task_from_my_tasks_and_others_cannot(app, client):
    owner = make_user("sales", name="Sam Seller")
    account = make_account(owner_id=owner.id)
    account.goals = "Cut cost by a third"
    db.session.add(Contact(account=account, first_name="Priya", email="p@harborview.example"))
    db.session.commit()
    plan = plans.create_plan("Call", "", [plans.StepInput("sales_task", subject="Call Priya")], None, NOW)
    plans.apply(plan.id, [account.id], NOW, None, NOW)
    from sqlalchemy import select

    from abmcontent.models import Touchpoint

    dispatch.dispatch_once(db.session.scalar(select(Touchpoint.due_at)), "w1")
    login(client, make_user("sales", email="other@abmcontent.test"))
    empty = client.get("/tasks").get_data(as_text=True)
    assert "Nothing to do right now" in empty
    [task] = plans.my_tasks(owner)
    client.post(f"/tasks/{task.id}", data={"status": "done"})
    assert task.status == "open"  # not theirs
    client.post("/logout")
    login(client, owner)
    html = client.get("/tasks").get_data(as_text=True)
    assert "Call Priya" in html and "Cut cost by a third" in html
    client.post(f"/tasks/{task.id}", data={"status": "done", "note": "Meeting on Tuesday"})
    db.session.refresh(task)
    assert task.status == "done" and task.note == "Meeting on Tuesday"


def test_the_outbox_lists_and_shows_what_was_sent_in_the_demo(app, client):
    from datetime import timedelta

    from abmcontent import touchpoints
    from tests.conftest import make_asset

    login(client, make_user("campaign"))
    assert "No email sent yet" in client.get("/outbox").get_data(as_text=True)
    asset = make_asset(make_user(), status="published", body="Hello **{{ contact.first_name }}** <script>x()</script>")
    account = make_account()
    contact = Contact(account=account, first_name="Priya", email="priya@harborview.example")
    db.session.add(contact)
    db.session.commit()
    touchpoints.schedule(account_id=account.id, contact_id=contact.id, channel="email", due_at=NOW,
                         window_end_at=NOW + timedelta(hours=8), key="outbox-1", now=NOW, asset_id=asset.id,
                         subject="For {{ account.name }}")
    dispatch.dispatch_once(NOW, "w1")
    listing = client.get("/outbox").get_data(as_text=True)
    assert "For Harborview Bank" in listing and "priya@harborview.example" in listing
    name = listing.split('/outbox/')[1].split('"')[0]
    page = client.get(f"/outbox/{name}").get_data(as_text=True)
    assert "List-Unsubscribe" in page and "Hello **Priya**" in page, page[-3000:]
    framed = client.get(f"/outbox/{name}/html")
    assert "sandbox" in framed.headers["Content-Security-Policy"] and b"<script>" not in framed.data
    for bad in ("..%2F..%2Fsecret_key", ".hidden", "x" * 200):
        assert client.get(f"/outbox/{bad}").status_code == 404
