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
