"""Default subject and body per event type (Handlebars; wrapped in the default layout)."""

ITEMS_TABLE = """<table class="items" role="presentation">
{{#each items}}
<tr><td>{{name}}</td><td align="right">&times; {{quantity}}</td></tr>
{{/each}}
</table>"""

TRACKING = """<p>Carrier: {{carrier}}, tracking number {{tracking_number}}.</p>
{{#if tracking_url}}<p><a class="button" href="{{tracking_url}}">Track the parcel</a></p>{{/if}}"""

GREETING = "<p>Hello {{#if customer.first_name}}{{customer.first_name}}{{else}}there{{/if}},</p>"

DEFAULTS = {
    "return.initiated": (
        "We received your return request {{return_id}}",
        f"""<h1>Your return request is in</h1>
{GREETING}
<p>Thank you: we received your request to return these items from order {{{{order_id}}}}. We are
reviewing it and will write again as soon as it is approved.</p>
{ITEMS_TABLE}
<p class="muted">Return number: {{{{return_id}}}}</p>""",
    ),
    "return.approved": (
        "Your return {{return_id}} is approved",
        f"""<h1>Your return is approved</h1>
{GREETING}
<p>Good news: your return {{{{return_id}}}} is approved. You can now send these items back.</p>
{ITEMS_TABLE}
{{{{#if return_by}}}}<p>Please send them by <strong>{{{{return_by}}}}</strong>.</p>{{{{/if}}}}
<p>We will email your return label shortly.</p>""",
    ),
    "return.rejected": (
        "About your return {{return_id}}",
        f"""<h1>We could not accept your return</h1>
{GREETING}
<p>We are sorry: your return {{{{return_id}}}} for order {{{{order_id}}}} could not be accepted.</p>
<p><strong>Reason:</strong> {{{{reason}}}}</p>
{ITEMS_TABLE}
<p>If you think this is a mistake, just reply to this email.</p>""",
    ),
    "return.label_created": (
        "Your return label for {{return_id}}",
        f"""<h1>Your return label is ready</h1>
{GREETING}
<p>Print the label, stick it on the parcel and drop it off with {{{{carrier}}}}.</p>
<p><a class="button" href="{{{{label_url}}}}">Download the label</a></p>
{{{{#if return_by}}}}<p>Please send the parcel by <strong>{{{{return_by}}}}</strong>.</p>{{{{/if}}}}
<p class="muted">Tracking number: {{{{tracking_number}}}}</p>""",
    ),
    "return.in_transit": (
        "Your return {{return_id}} is on its way",
        f"""<h1>Your parcel is on its way to us</h1>
{GREETING}
<p>{{{{carrier}}}} picked up your return {{{{return_id}}}}.</p>
{TRACKING}""",
    ),
    "return.received": (
        "We received your return {{return_id}}",
        f"""<h1>Your return arrived</h1>
{GREETING}
<p>Your parcel for return {{{{return_id}}}} arrived at our warehouse. We are checking the items
and will let you know about your refund within a few days.</p>
{ITEMS_TABLE}""",
    ),
    "refund.processed": (
        "Your refund of {{refund.amount}} {{refund.currency}} is on its way",
        f"""<h1>Your refund is on its way</h1>
{GREETING}
<p>We refunded <strong>{{{{refund.amount}}}} {{{{refund.currency}}}}</strong> to
{{{{refund.method}}}} for your return {{{{return_id}}}}. Depending on your bank, it can take a
few days to appear.</p>
{ITEMS_TABLE}
<p>Thank you for shopping with us.</p>""",
    ),
    "exchange.shipped": (
        "Your exchange for {{return_id}} has shipped",
        f"""<h1>Your exchange is on its way</h1>
{GREETING}
<p>We shipped the replacement items for your return {{{{return_id}}}}.</p>
{ITEMS_TABLE}
{TRACKING}""",
    ),
    "store_credit.issued": (
        "Your store credit of {{credit.amount}} {{credit.currency}}",
        f"""<h1>Your store credit is ready</h1>
{GREETING}
<p>For your return {{{{return_id}}}} we issued store credit of
<strong>{{{{credit.amount}}}} {{{{credit.currency}}}}</strong>.</p>
<p>Your voucher code: <strong>{{{{credit.code}}}}</strong></p>""",
    ),
    "return.cancelled": (
        "Your return {{return_id}} was cancelled",
        f"""<h1>Your return was cancelled</h1>
{GREETING}
<p>Your return {{{{return_id}}}} for order {{{{order_id}}}} was cancelled.</p>
{{{{#if reason}}}}<p>{{{{reason}}}}</p>{{{{/if}}}}
<p>You can start a new return at any time from your account.</p>""",
    ),
    "return.more_info_required": (
        "We need a little more information about {{return_id}}",
        f"""<h1>We need a little more information</h1>
{GREETING}
<p>To decide on your return {{{{return_id}}}}, we need one more thing from you:</p>
<p><strong>{{{{request}}}}</strong></p>
{{{{#if respond_url}}}}<p><a class="button" href="{{{{respond_url}}}}">Answer here</a></p>{{{{else}}}}<p>Just reply to this email.</p>{{{{/if}}}}
{ITEMS_TABLE}""",
    ),
    "return.inspected": (
        "We inspected your return {{return_id}}",
        f"""<h1>Your return has been inspected</h1>
{GREETING}
<p>We checked the items of your return {{{{return_id}}}}.</p>
{ITEMS_TABLE}
{{{{#if notes}}}}<p>{{{{notes}}}}</p>{{{{/if}}}}
<p>We will confirm your refund or exchange shortly.</p>""",
    ),
    "exchange.created": (
        "Your exchange for {{return_id}} is reserved",
        f"""<h1>Your exchange is reserved</h1>
{GREETING}
<p>We reserved these replacement items for your return {{{{return_id}}}}. They ship as soon as
your parcel reaches us.</p>
{ITEMS_TABLE}""",
    ),
    "exchange.out_of_stock": (
        "About your exchange for {{return_id}}",
        f"""<h1>Your replacement is out of stock</h1>
{GREETING}
<p>We are sorry: the items you chose in exchange for your return {{{{return_id}}}} are out of
stock.</p>
{ITEMS_TABLE}
<p>Instead we offer you {{{{alternative}}}}. Reply to this email if you would prefer something
else.</p>""",
    ),
    "return.reminder": (
        "Reminder: please send your return {{return_id}}",
        f"""<h1>A friendly reminder</h1>
{GREETING}
<p>We have not received the parcel for your return {{{{return_id}}}} yet.
{{{{#if return_by}}}}Please send it by <strong>{{{{return_by}}}}</strong>.{{{{/if}}}}</p>
{{{{#if label_url}}}}<p><a class="button" href="{{{{label_url}}}}">Download the label again</a></p>{{{{/if}}}}""",
    ),
    "return.expired": (
        "Your return {{return_id}} has expired",
        f"""<h1>Your return has expired</h1>
{GREETING}
<p>We did not receive the items of your return {{{{return_id}}}} in time, so the return is now
closed.</p>
{ITEMS_TABLE}
<p>If you already sent the parcel, reply to this email with its tracking number.</p>""",
    ),
    "return.completed": (
        "Your return {{return_id}} is complete",
        f"""<h1>All done</h1>
{GREETING}
<p>Your return {{{{return_id}}}} for order {{{{order_id}}}} is complete. Thank you for your
patience.</p>
{ITEMS_TABLE}""",
    ),
    "return.exception": (
        "{{#if severity}}[{{severity}}] {{/if}}Return {{return_id}} needs attention",
        """<h1>Return {{return_id}} needs attention</h1>
<p><strong>{{reason}}</strong></p>
<p>Order {{order_id}} · customer {{customer.name}} &lt;{{customer.email}}&gt;{{#if severity}} · severity {{severity}}{{/if}}</p>
{{#if details_url}}<p><a class="button" href="{{details_url}}">Open the case</a></p>{{/if}}""",
    ),
}
