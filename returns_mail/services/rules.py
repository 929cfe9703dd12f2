"""Trying a rule against an event without sending anything ("Test this rule")."""

from __future__ import annotations

from dataclasses import dataclass, field

from returns_mail.conditions import condition_holds, conditions_match
from returns_mail.models import ReturnEvent, TriggerRule
from returns_mail.services.routing import route
from returns_mail.services.suppression import is_suppressed
from templates_lib.rendering import RenderedEmail, pick_locale, render_version


@dataclass
class RuleTrial:
    matched: bool
    reasons: list[str] = field(default_factory=list)  # per condition: holds or not
    recipients: list[dict] = field(default_factory=list)  # email, internal, suppressed, account
    rendered: RenderedEmail | None = None
    version_number: int | None = None


def rule_try(*, rule: TriggerRule, context: dict, event_type: str, locale: str = "") -> RuleTrial:
    """Whether `rule` matches an event of `event_type` with `context` (an event's template
    context), and what it would send: recipients, accounts, the rendered email. Sends nothing."""
    trial = RuleTrial(matched=False)
    if event_type != rule.event_type:
        trial.reasons.append(f"the rule is for {rule.event_type}, not {event_type}")
        return trial
    if not rule.enabled:
        trial.reasons.append("the rule is disabled")
    for condition in rule.conditions:
        holds = condition_holds(context, condition)
        trial.reasons.append(
            f"{condition['field']} {condition['op']} {condition.get('value', '')!s}: "
            + ("holds" if holds else "does not hold")
        )
    trial.matched = rule.enabled and conditions_match(context, rule.conditions, rule.match)
    version = rule.pinned_version or rule.template.active_version
    if not trial.matched or version is None:
        if version is None:
            trial.reasons.append("the template has no active version")
        return trial
    trial.version_number = version.number
    customer = context.get("customer", {})
    emails = []
    if rule.send_to_customer and customer.get("email"):
        emails.append((customer["email"], False))
    emails += [(email, True) for email in rule.internal_recipients]
    for email, internal in emails:
        accounts = route(rule, email)
        trial.recipients.append(
            {
                "email": email,
                "internal": internal,
                "suppressed": is_suppressed(email, purpose=rule.template.purpose),
                "accounts": [a.name for a in accounts],
            }
        )
    chosen = pick_locale(version.contents, locale or customer.get("locale"), version.default_locale)
    trial.rendered = render_version(version, context, chosen)
    return trial


def rule_try_event(*, rule: TriggerRule, event: ReturnEvent) -> RuleTrial:
    return rule_try(
        rule=rule,
        context=event.template_context(),
        event_type=event.type,
        locale=event.customer_locale,
    )
