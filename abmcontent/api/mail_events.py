"""POST /api/v1/mail-events: the mail provider's bounce and complaint webhook → suppression.

Point SendGrid, Postmark, Mailgun or Amazon SES (through SNS) at this address with a write
token of a campaign manager or admin, as `Authorization: Bearer …` or, for providers that only
send basic auth, as the password (https://any:abm_…@host/api/v1/mail-events). The body is read
as the provider sent it (SNS posts JSON as text/plain); abmcontent.mail_feedback knows the shapes.
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask import request
from flask.views import MethodView
from marshmallow import Schema, fields

from abmcontent import mail_feedback
from abmcontent.api import auth
from abmcontent.api.blueprint import resource

blp = resource("Mail events", "/mail-events",
               "Bounces and spam complaints from your mail provider: hard bounces and complaints "
               "suppress the address, so no plan emails it again.")

ANY_JSON = {"description": "The provider's webhook body as it sends it: a generic "
                           "`{\"events\": [{\"type\": \"bounce\", \"email\": …, \"bounce_type\": \"hard\"}]}`, "
                           "a SendGrid event array, a Postmark bounce, a Mailgun event or an SNS notification."}


class FeedbackReportSchema(Schema):
    provider = fields.String(required=True)
    suppressed = fields.Integer(required=True, metadata={"description": "Addresses suppressed by this call."})
    already_suppressed = fields.Integer(required=True)
    soft = fields.Integer(required=True, metadata={"description": "Soft bounces and deferrals: counted only."})
    ignored = fields.Integer(required=True)
    errors = fields.List(fields.String(), required=True)
    subscribe_url = fields.String(required=True, metadata={
        "description": "Amazon SNS: open this once to confirm the subscription."})


@blp.route("")
class MailEvents(MethodView):
    @blp.doc(requestBody={"required": True, "content": {
        "application/json": {"schema": ANY_JSON}, "text/plain": {"schema": {"type": "string"}}}})
    @blp.response(200, FeedbackReportSchema)
    @auth.roles("campaign")
    def post(self):
        """Report bounces and complaints (campaign managers' or admins' write tokens)."""
        report = mail_feedback.receive(request.get_data(cache=False), datetime.now(timezone.utc))
        return report.as_dict()
