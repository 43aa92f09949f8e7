"""Account news feeds on the account page: add, remove, read now. htmx swaps the card; without
JavaScript each form posts and comes back to the account page (303), or shows it again with the
error (422)."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from abmcontent import accounts, news
from abmcontent.errors import InvalidTransition, ValidationError
from abmcontent.extensions import htmx

bp = Blueprint("news", __name__, url_prefix="/accounts")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _wants_card() -> bool:
    return bool(htmx) and not htmx.boosted


@bp.after_request
def _vary(response):
    response.vary.add("HX-Request")  # the card for htmx, a redirect or the whole page otherwise
    return response


def _card(account_id: int, status: int = 200, **extra):
    account = accounts.get_account(account_id)
    return make_response(render_template(
        "news/_account_feeds.html", account=account, feeds=news.feeds_for(account.id, _now()),
        can_manage_feeds=news.can_manage(current_user, account), **extra), status)


def _back(account_id: int):
    return redirect(url_for("accounts.show", account_id=account_id) + "#feeds", 303)


@bp.post("/<int:account_id>/feeds")
@login_required
def add(account_id: int):
    url = request.form.get("url", "")[:4000]
    try:
        feed = news.add_feed(account_id, url, current_user, _now())
    except ValidationError as error:
        if _wants_card():
            return _card(account_id, 422, feed_errors=error.errors, feed_url=url)
        from abmcontent.web.accounts import _page_context

        return render_template("accounts/show.html", feed_errors=error.errors, feed_url=url,
                               **_page_context(accounts.get_account(account_id))), 422
    message = _("Feed added: it is read within a few minutes, then about every hour.")
    if _wants_card():
        return _card(account_id, notice=message)
    flash(message, "success")
    return _back(feed.account_id)


@bp.post("/<int:account_id>/feeds/<int:feed_id>/remove")
@login_required
def remove(account_id: int, feed_id: int):
    news.remove_feed(account_id, feed_id, current_user)
    message = _("Feed removed, with the news it brought.")
    if _wants_card():
        return _card(account_id, notice=message)
    flash(message, "success")
    return _back(account_id)


@bp.post("/<int:account_id>/feeds/<int:feed_id>/check")
@login_required
def check(account_id: int, feed_id: int):
    """Read one feed now, while the person waits (a shorter time limit than the scheduler's)."""
    try:
        outcome = news.read_now(account_id, feed_id, current_user, _now())
    except InvalidTransition as error:
        message, category = str(error), "error"
    else:
        if outcome.status == "error":
            message, category = _("The feed could not be read: %(why)s", why=news.say_error(outcome.error)), "error"
        elif outcome.status == "not_modified":
            message, category = _("Read: nothing new since the last read."), "success"
        else:
            message, category = ngettext("Read: %(num)d new item.", "Read: %(num)d new items.",
                                         outcome.new_items), "success"
    if _wants_card():
        return _card(account_id, notice=message, notice_error=category == "error")
    flash(message, category)
    return _back(account_id)
