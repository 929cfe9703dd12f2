"""Mailchimp Marketing templates: our variables as Mailchimp merge tags.

Mailchimp campaigns fill merge tags (*|FNAME|*) per audience member; they have no Handlebars
blocks. A promotional template pushed there may use the variables below (the audience's merge
fields, kept by the audience sync) and the brand (filled in at push time).
"""

from __future__ import annotations

from templates_lib import handlebars
from templates_lib.exceptions import TemplateLibError

MERGE_TAGS = {
    "customer.email": "EMAIL",
    "customer.first_name": "FNAME",
    "customer.name": "NAME",
    "customer.locale": "LOCALE",
    "return_id": "RMA",
    "order_id": "ORDER",
    # Mailchimp's own per-member links: its unsubscribe page and its preference centre.
    "unsubscribe_url": "UNSUB",
    "preferences_url": "UPDATE_PROFILE",
}
# Known now for every member (Mailchimp fills both links): a block on them is kept as true.
_ALWAYS_SET = {"unsubscribe_url": True, "preferences_url": True}


class NotMergeTagCompatible(TemplateLibError):
    """The template uses something Mailchimp merge tags cannot express."""


def to_merge_tags(source: str, brand: dict[str, str], *, escape: bool = True) -> str:
    """`source` with customer variables as merge tags and the brand filled in.

    Blocks may test only the brand (it is known now) and the unsubscribe links (Mailchimp
    always fills them); anything per-customer must be a mapped variable, since merge tags have
    no blocks."""
    out, last = [], 0
    for span in handlebars.token_spans(source):
        out.append(source[last : span.start])
        last = span.end
        token = source[span.start : span.end]
        body = token.strip("{}~ \t\r\n")
        if span.kind == "open" and not _tests_known(body):
            raise NotMergeTagCompatible(
                f"Mailchimp Marketing templates can use blocks only on the brand, not {token}"
            )
        path = body.lstrip("&").strip()
        if span.kind in ("variable", "raw") and not path.startswith("brand"):
            if path not in MERGE_TAGS:
                raise NotMergeTagCompatible(
                    f"{{{{{path}}}}} has no Mailchimp merge field; Marketing templates may use "
                    + ", ".join(f"{{{{{p}}}}}" for p in MERGE_TAGS)
                    + " and the brand variables"
                )
            token = f"*|{MERGE_TAGS[path]}|*"
        out.append(token)
    out.append(source[last:])
    # What is left is Handlebars on the brand alone: render it now.
    program = handlebars.parse("".join(out), allow_raw=True)
    return handlebars.render(program, {"brand": brand, **_ALWAYS_SET}, escape=escape)


def _tests_known(block: str) -> bool:
    """Whether an opening block tag (`#if brand.logo_url`) looks only at what is known at push
    time: the brand, or the unsubscribe links Mailchimp always fills."""
    parts = block.lstrip("#").split()
    if len(parts) != 2:
        return False
    return parts[1] == "brand" or parts[1].startswith("brand.") or parts[1] in _ALWAYS_SET
