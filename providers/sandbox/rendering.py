"""Handlebars rendering for the sandbox's providers, with handlebars.js itself (4.7.8, run in
Python by js2py): what SendGrid dynamic templates and Mandrill's `merge_language: handlebars`
would make of a template, so tests can assert the email a customer would get.

handlebars.js is imported on first use (about half a second) and compiled templates are kept
by source. js2py is not thread-safe and the sandbox answers requests on many threads, so
rendering is serialised. A render costs about a millisecond per simple template: fine for a
test double, slow for thousands of recipients.

Only standard handlebars.js helpers exist here (`if`, `unless`, `each`, `with`, `lookup`,
`log`). Mandrill registers more (`upper`, `lower`, `title`, `url`, `date`, ...), and SendGrid
has its own (`equals`, `formatDate`, ...); a template that calls one renders as an error here.
"""

from __future__ import annotations

import html
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

MAX_COMPILED = 256

_lock = threading.Lock()
_compiled: OrderedDict[str, Any] = OrderedDict()
_handlebars: Any = None


class RenderError(Exception):
    """handlebars.js refused the template (syntax) or failed while rendering it."""


def _engine() -> Any:
    global _handlebars
    if _handlebars is None:
        from handlebars import Handlebars

        _handlebars = Handlebars
    return _handlebars


def _template(source: str) -> Any:
    template = _compiled.get(source)
    if template is None:
        template = _engine().compile(source)
        _compiled[source] = template
        while len(_compiled) > MAX_COMPILED:
            _compiled.popitem(last=False)
    else:
        _compiled.move_to_end(source)
    return template


def render(source: str | None, data: Mapping[str, Any] | None) -> str:
    """`Handlebars.compile(source)(data)`; raises RenderError with handlebars.js's message."""
    if not source:
        return ""
    if "{{" not in source:  # nothing for Handlebars to do: spare the JS engine
        return source
    with _lock:
        _engine()  # outside the try: a missing package is no template error
        try:
            # handlebars.js compiles lazily: a syntax error surfaces on the first call.
            return str(_template(source)(dict(data or {})))
        except Exception as exc:  # js2py raises its own JsException (and Python errors)
            _compiled.pop(source, None)
            raise RenderError(_message(exc)) from None


def _message(exc: Exception) -> str:
    text = str(exc).strip()
    return text.removeprefix("Error: ") or type(exc).__name__


def plain_text_from_html(source: str) -> str:
    """A crude HTML-to-text conversion, as providers generate plain text from HTML."""
    return html.unescape(re.sub(r"<[^>]+>", "", source or "")).strip()
