"""Trigger rules: what makes a rule valid (its template, recipients, conditions and route) and
trying a rule against an event without sending anything ("Test this rule")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from providers.models import ProviderAccount, Purpose
from returns_mail.conditions import condition_holds, conditions_errors, conditions_match
from returns_mail.models import ReturnEvent, RoutingMode, TriggerRule
from returns_mail.services.routing import route
from returns_mail.services.suppression import is_suppressed
from templates_lib.catalogue import allowed_variables
from templates_lib.models import Template, TemplateVersion
from templates_lib.rendering import RenderedEmail, pick_locale, render_version


def condition_fields(event_type: str) -> list[str]:
    """The paths a condition on an event of `event_type` may test. The brand comes from the
    template's layout, not from the event, so conditions cannot use it."""
    return sorted(
        path
        for path in allowed_variables([event_type])
        if path != "brand" and not path.startswith("brand.")
    )


def rule_validate(
    *,
    event_type: str | None,
    template: Template | None,
    pinned_version: TemplateVersion | None,
    send_to_customer: bool,
    internal_recipients: list[str] | None,
    conditions: list[dict],
) -> None:
    """Raise a ValidationError keyed by field ("template", "pinned_version", "conditions"; the
    rest under NON_FIELD_ERRORS) for what makes the rule invalid. A None value is one the caller
    could not read (already reported there), so it is not judged again."""
    errors: dict[str, list[str]] = {}
    if template and pinned_version and pinned_version.template_id != template.pk:
        errors.setdefault("pinned_version", []).append(
            f"{pinned_version.template.name} v{pinned_version.number} is a version of another "
            f"template; choose a version of “{template.name}” or leave it empty."
        )
    elif template and not pinned_version and template.active_version_id is None:
        errors.setdefault("template", []).append(
            f"“{template.name}” has no active version: publish one or pin one."
        )
    if template and template.event_types and event_type not in (None, *template.event_types):
        errors.setdefault("template", []).append(
            f"“{template.name}” is made for {', '.join(template.event_types)}, not for "
            f"{event_type}: choose a template for {event_type}."
        )
    if not send_to_customer and internal_recipients == []:
        errors[NON_FIELD_ERRORS] = ["Send to the customer, or add at least one internal recipient."]
    if condition_errors := _conditions_errors(conditions, event_type):
        errors["conditions"] = condition_errors
    if errors:
        raise ValidationError(errors)


def _conditions_errors(conditions: list[dict], event_type: str | None) -> list[str]:
    """Each condition's errors, numbered from 1 as the admin shows them."""
    allowed = set(condition_fields(event_type)) if event_type else None
    errors = []
    for number, condition in enumerate(conditions, start=1):
        errors += [
            f"Condition {number}{message.removeprefix('Condition 1')}"
            for message in conditions_errors([condition])
        ]
        field_ = condition.get("field")
        if field_ and allowed is not None and field_ not in allowed:
            errors.append(
                f"Condition {number}: {event_type} events have no field “{field_}”. "
                f"Fields: {', '.join(sorted(allowed))}."
            )
        if condition.get("op") == "in" and condition.get("value") == []:
            errors.append(f"Condition {number} needs at least one value (comma-separated).")
    return errors


def routes_validate(
    *,
    routing: str,
    routes: Sequence[tuple[ProviderAccount, int | None]],
    template: Template | None = None,
) -> None:
    """Raise a ValidationError when the route (account and weight, in order) does not suit the
    rule's routing mode, has no active account, or (given the rule's `template`) no active
    account that may send the template's kind of mail."""
    active = [account for account, _ in routes if account.is_active]
    if not active:
        raise ValidationError("Add at least one active provider account to the route.")
    if template is not None and not any(
        Purpose.serves(account.purpose, template.purpose) for account in active
    ):
        raise ValidationError(
            f"“{template.name}” is a {template.purpose} template, but no active account of the "
            f"route sends {template.purpose} mail ({_purposes(active)}): add an account whose "
            f"purpose is {template.purpose} or both, or choose another template."
        )
    if routing == RoutingMode.SINGLE and len(routes) != 1:
        raise ValidationError(
            f"“One account” routing takes exactly one account, not {len(routes)}: remove the "
            "others, or choose a failover chain or a weighted split."
        )
    if routing == RoutingMode.WEIGHTED:
        zero = [account.name for account, weight in routes if not weight]
        if zero:
            raise ValidationError(
                f"In a weighted split every account needs a weight above 0: {', '.join(zero)}."
            )


def _purposes(accounts: Sequence[ProviderAccount]) -> str:
    return ", ".join(f"{a.name}: {a.get_purpose_display().lower()}" for a in accounts)


@dataclass
class RuleTrial:
    matched: bool
    reasons: list[str] = field(default_factory=list)  # per condition: holds or not
    recipients: list[dict] = field(default_factory=list)  # email, internal, suppressed, account
    rendered: RenderedEmail | None = None
    version_number: int | None = None


def rule_try(
    *,
    rule: TriggerRule,
    context: dict,
    event_type: str,
    locale: str = "",
    marketing_consent: bool | None = None,
) -> RuleTrial:
    """Whether `rule` matches an event of `event_type` with `context` (an event's template
    context; `marketing_consent` the event's, None for a sample), and what it would send:
    recipients, accounts (those serving the template's purpose), whether the consent gate would
    refuse each, the rendered email. Sends nothing."""
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
    purpose = rule.template.purpose
    for email, internal in emails:
        accounts = route(rule, email, purpose=purpose)
        suppressed = is_suppressed(email, purpose=purpose)
        trial.recipients.append(
            {
                "email": email,
                "internal": internal,
                "suppressed": suppressed,
                "accounts": [a.name for a in accounts],
                "refusal": _refusal(purpose, internal, marketing_consent, suppressed, accounts),
            }
        )
    chosen = pick_locale(version.contents, locale or customer.get("locale"), version.default_locale)
    trial.rendered = render_version(version, context, chosen)
    return trial


def _refusal(purpose, internal, consent, suppressed, accounts) -> str:
    """Why the consent gate would refuse a promotional message ("" when it would not), as
    events.messages_plan_many decides: consent (customers only), suppression, an account."""
    if purpose != Purpose.PROMOTIONAL:
        return ""
    if not internal and consent is False:
        return "no marketing consent: it would be recorded as suppressed, not sent"
    if not internal and consent is None:
        return "only if the event's marketing_consent is true"
    if suppressed:
        return "suppressed for promotional mail: it would be recorded as suppressed, not sent"
    if not accounts:
        return "no account of the route sends promotional mail: it would be suppressed"
    return ""


def rule_try_event(*, rule: TriggerRule, event: ReturnEvent) -> RuleTrial:
    return rule_try(
        rule=rule,
        context=event.template_context(),
        event_type=event.type,
        locale=event.customer_locale,
        marketing_consent=event.marketing_consent,
    )
