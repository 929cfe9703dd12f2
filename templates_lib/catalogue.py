"""The return-event catalogue: every event type the returns system can post, and the fields it
carries. The template library allows a template to use exactly the variables its event types
provide (see `variables()`); returns_mail's REST API validates incoming events against it. It
lives here, in the lower of the two apps, so both import it directly.

Every event carries the common fields; each type adds its own `data`. Field paths use `[]` for
"each element of a list", as templates' Handlebars references do.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Field:
    name: str
    type: (
        str  # string | email | url | date | datetime | decimal | integer | boolean | list | object
    )
    description: str = ""
    required: bool = True
    fields: tuple[Field, ...] = ()  # of each element (list) or of the object

    def paths(self, prefix: str = "") -> list[str]:
        path = f"{prefix}{self.name}"
        paths = [path]
        child_prefix = f"{path}[]." if self.type == "list" else f"{path}."
        if self.type == "list":
            paths.append(f"{path}[]")
        for child in self.fields:
            paths.extend(child.paths(child_prefix))
        return paths


@dataclass(frozen=True)
class EventType:
    key: str
    label: str
    description: str
    fields: tuple[Field, ...]
    sample: dict[str, Any]

    def variables(self) -> set[str]:
        """Every variable path a template for this event type may read."""
        paths = set()
        for f in (*COMMON_FIELDS, *self.fields):
            paths.update(f.paths())
        return paths


ITEM = Field(
    "items",
    "list",
    "The returned items.",
    fields=(
        Field("sku", "string", "Stock-keeping unit."),
        Field("name", "string", "Product name."),
        Field("quantity", "integer", "How many."),
        Field("reason", "string", "Why the customer returns it.", required=False),
        Field("image_url", "url", "Product image.", required=False),
    ),
)
MONEY = (
    Field("amount", "decimal", 'Amount, as a decimal string, e.g. "49.90".'),
    Field("currency", "string", "ISO 4217 code, e.g. EUR."),
)
TRACKING = (
    Field("carrier", "string", "Carrier name."),
    Field("tracking_number", "string", "Carrier tracking number."),
    Field("tracking_url", "url", "Where the customer can follow the parcel.", required=False),
)

# Fields every event carries (the API's top level), plus the shop's brand (from the layout).
COMMON_FIELDS: tuple[Field, ...] = (
    Field("return_id", "string", "The return (RMA) number."),
    Field("order_id", "string", "The original order number."),
    Field("occurred_at", "datetime", "When it happened (ISO 8601, with time zone)."),
    Field(
        "customer",
        "object",
        "The customer.",
        fields=(
            Field("email", "email", "Email address."),
            Field("name", "string", "Full name.", required=False),
            Field("first_name", "string", "First name (derived from the name).", required=False),
            Field("locale", "string", "Language, e.g. en, fr-CA.", required=False),
        ),
    ),
    Field(
        "brand",
        "object",
        "The shop's brand, from the template's layout.",
        fields=(
            Field("name", "string", "Shop name."),
            Field("logo_url", "url", "Logo image."),
            Field("primary_color", "string", "Brand colour (#rrggbb)."),
            Field("support_email", "email", "Where customers write for help."),
            Field("website_url", "url", "The shop's website."),
            Field("address", "string", "Postal address for the footer."),
        ),
    ),
)

_SAMPLE_ITEMS = [
    {"sku": "TS-RED-M", "name": "Organic T-shirt, red, M", "quantity": 1, "reason": "Too small"},
    {"sku": "JN-BLU-32", "name": "Slim jeans, blue, 32", "quantity": 1, "reason": "Changed mind"},
]
_SAMPLE_TRACKING = {
    "carrier": "DHL",
    "tracking_number": "JD014600003728",
    "tracking_url": "https://tracking.example/JD014600003728",
}


def _event(key, label, description, fields=(), **sample_data) -> EventType:
    return EventType(key, label, description, tuple(fields), sample_data)


RETURN_BY = Field("return_by", "date", "Last day to send the items.", required=False)
REASON = Field("reason", "string", "Why.")

EVENT_TYPES: tuple[EventType, ...] = (
    _event(
        "return.initiated",
        "Return initiated",
        "The customer asked to return items; the request is being reviewed.",
        [ITEM],
        items=_SAMPLE_ITEMS,
    ),
    _event(
        "return.approved",
        "Return approved",
        "The return was approved; the customer may send the items back.",
        [ITEM, RETURN_BY],
        items=_SAMPLE_ITEMS,
        return_by="2026-12-10",
    ),
    _event(
        "return.rejected",
        "Return rejected",
        "The return was refused.",
        [ITEM, REASON],
        items=_SAMPLE_ITEMS,
        reason="The return window of 30 days has passed.",
    ),
    _event(
        "return.more_info_required",
        "More information required",
        "The shop needs more information (photos, order details) before deciding.",
        [
            ITEM,
            Field("request", "string", "What the customer should provide."),
            Field("respond_url", "url", "Where to answer.", required=False),
        ],
        items=_SAMPLE_ITEMS,
        request="Please send a photo of the damaged seam.",
        respond_url="https://shop.example/returns/RMA-1001",
    ),
    _event(
        "return.label_created",
        "Return label created",
        "A prepaid shipping label is ready.",
        [Field("label_url", "url", "Where to download the label."), *TRACKING, RETURN_BY],
        label_url="https://labels.example/RMA-1001.pdf",
        return_by="2026-12-10",
        **_SAMPLE_TRACKING,
    ),
    _event(
        "return.in_transit",
        "Return in transit",
        "The carrier picked up the parcel.",
        TRACKING,
        **_SAMPLE_TRACKING,
    ),
    _event(
        "return.received",
        "Return received",
        "The warehouse received the parcel; inspection follows.",
        [ITEM],
        items=_SAMPLE_ITEMS,
    ),
    _event(
        "return.inspected",
        "Return inspected",
        "The items were inspected.",
        [
            ITEM,
            Field("outcome", "string", "accepted, partially_accepted or refused."),
            Field("notes", "string", "What the inspection found.", required=False),
        ],
        items=_SAMPLE_ITEMS,
        outcome="accepted",
        notes="Both items are in resalable condition.",
    ),
    _event(
        "refund.processed",
        "Refund processed",
        "The refund was issued.",
        [
            ITEM,
            Field(
                "refund",
                "object",
                "The refund.",
                fields=(*MONEY, Field("method", "string", "Card, PayPal, ...")),
            ),
        ],
        items=_SAMPLE_ITEMS,
        refund={"amount": "89.80", "currency": "EUR", "method": "Visa ending 4242"},
    ),
    _event(
        "store_credit.issued",
        "Store credit issued",
        "The customer received store credit instead of a refund.",
        [
            Field(
                "credit",
                "object",
                "The credit.",
                fields=(*MONEY, Field("code", "string", "Voucher code.")),
            )
        ],
        credit={"amount": "89.80", "currency": "EUR", "code": "CREDIT-7Q4M-2K9P"},
    ),
    _event(
        "exchange.created",
        "Exchange created",
        "Replacement items were reserved for the customer.",
        [ITEM],
        items=_SAMPLE_ITEMS,
    ),
    _event(
        "exchange.shipped",
        "Exchange shipped",
        "The replacement items are on their way.",
        [ITEM, *TRACKING],
        items=_SAMPLE_ITEMS,
        **_SAMPLE_TRACKING,
    ),
    _event(
        "exchange.out_of_stock",
        "Exchange out of stock",
        "A replacement is out of stock; the customer is offered a refund instead.",
        [ITEM, Field("alternative", "string", "What the shop offers instead.")],
        items=_SAMPLE_ITEMS,
        alternative="a full refund to your original payment method",
    ),
    _event(
        "return.reminder",
        "Return reminder",
        "The customer has not sent the items yet.",
        [RETURN_BY, Field("label_url", "url", "The label, again.", required=False)],
        return_by="2026-12-10",
        label_url="https://labels.example/RMA-1001.pdf",
    ),
    _event(
        "return.expired",
        "Return expired",
        "The items were not sent in time; the return is closed.",
        [ITEM],
        items=_SAMPLE_ITEMS,
    ),
    _event(
        "return.cancelled",
        "Return cancelled",
        "The return was cancelled (by the customer or the shop).",
        [Field("reason", "string", "Why.", required=False)],
        reason="Cancelled at the customer's request.",
    ),
    _event(
        "return.completed",
        "Return completed",
        "Everything about the return is settled.",
        [ITEM],
        items=_SAMPLE_ITEMS,
    ),
    # No default template nor rule (templates_lib/defaults has none for it): the returns
    # system posts it so that a promotional email can be credited with the order (conversions).
    _event(
        "order.placed",
        "Order placed",
        "The customer placed a new order (return_id: the customer's latest return; order_id: "
        "the new order). Sends nothing by default; counts as a conversion of promotional mail.",
        [
            Field(
                "order",
                "object",
                "The new order.",
                fields=(*MONEY, Field("items_count", "integer", "How many items.")),
            )
        ],
        order={"amount": "129.00", "currency": "EUR", "items_count": 2},
    ),
    _event(
        "return.exception",
        "Return exception",
        "Something needs a person: a lost parcel, a failed refund, a fraud flag (staff alert).",
        [
            REASON,
            Field("severity", "string", "low, medium or high.", required=False),
            Field("details_url", "url", "Where staff see the case.", required=False),
        ],
        reason="Parcel marked delivered by the carrier but not received at the warehouse.",
        severity="high",
        details_url="https://returns.internal/RMA-1001",
    ),
)

CATALOGUE: dict[str, EventType] = {event.key: event for event in EVENT_TYPES}

SAMPLE_COMMON = {
    "return_id": "RMA-1001",
    "order_id": "ORD-58213",
    "occurred_at": "2026-11-26T10:15:00+00:00",
    "customer": {
        "email": "ada.customer@example.com",
        "name": "Ada Lovelace",
        "first_name": "Ada",
        "locale": "en",
    },
}


def sample_context(event_type: str) -> dict[str, Any]:
    """A complete template context for `event_type` from sample data (brand added by layouts)."""
    return {**SAMPLE_COMMON, **CATALOGUE[event_type].sample}


def event_type_choices() -> list[tuple[str, str]]:
    return [(key, event.label) for key, event in CATALOGUE.items()]


def allowed_variables(keys: Iterable[str]) -> set[str]:
    """The variables a template for all of `keys` may use: those every one of them provides
    (the common fields alone when there are none)."""
    sets = [CATALOGUE[key].variables() for key in keys if key in CATALOGUE]
    if not sets:
        common = set()
        for field in COMMON_FIELDS:
            common.update(field.paths())
        return common
    return set.intersection(*sets)
