from apscheduler.schedulers.background import BackgroundScheduler

from abmcontent import scheduler
from abmcontent.models import Account, ImportJob


def test_configuring_five_times_leaves_one_of_each_recurring_job(app):
    clock = BackgroundScheduler(timezone="UTC")
    clock.start(paused=True)
    try:
        for _ in range(5):
            scheduler.configure(clock, app)
        assert sorted(job.id for job in clock.get_jobs()) == sorted(scheduler.RECURRING)
    finally:
        clock.shutdown(wait=False)


def test_the_import_job_runs_queued_imports_inside_the_app(app):
    from abmcontent import crm_import
    from tests.conftest import NOW

    crm_import.create_job("accounts", "a.csv", b"Company name\nAcme\n", None, NOW, app.config["UPLOAD_FOLDER"])
    scheduler.run_in_app(app, "abmcontent.scheduler.jobs:run_imports")
    assert ImportJob.query.one().status == "done" and Account.query.one().name == "Acme"


def test_a_failing_job_is_logged_not_raised(app, caplog):
    scheduler.run_in_app(app, "tests.scheduler.test_scheduler:_explode")
    assert "scheduled job tests.scheduler.test_scheduler:_explode failed" in caplog.text


def _explode():
    raise RuntimeError("boom")
