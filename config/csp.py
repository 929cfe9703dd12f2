"""The Content-Security-Policy (django-csp 4): one strict policy for every page, and the few
views that need more, listed here by URL name so every exception is reviewed in one place.

The base policy (``CONTENT_SECURITY_POLICY`` in settings) allows only this site's own scripts,
styles, images and frames, no inline scripts anywhere, and no framing by other sites. A view's
exception *adds* sources to some directives of that one response and nothing else.
"""

from __future__ import annotations

from csp.constants import NONE, SELF, UNSAFE_INLINE
from csp.middleware import CSPMiddleware, PolicyParts

# Email HTML as the sandboxed preview iframe shows it: a `srcdoc` document inherits the page's
# policy, and email HTML is made of inline styles, <style> blocks and remote https images. The
# iframe's `sandbox=""` already stops every script in it; scripts stay 'self' only.
EMAIL_PREVIEW = {"style-src": [UNSAFE_INLINE], "img-src": ["https:", "data:"]}

# CKEditor 4 (django-ckeditor) writes its editing area (an iframe document) with inline script
# and <style> blocks; it does not start without both (checked in a real browser:
# tests/config/test_security.py). It needs no 'unsafe-eval'. The edited email HTML shows remote
# images.
CKEDITOR = {
    "script-src": [UNSAFE_INLINE],
    "style-src": [UNSAFE_INLINE],
    "img-src": ["https:", "data:"],
}

# Swagger UI from drf-spectacular-sidecar: its page carries one small <style> block.
SWAGGER_UI = {"style-src": [UNSAFE_INLINE], "img-src": ["data:"]}

#: URL name (namespace:name) -> the sources added to that view's policy.
VIEW_EXCEPTIONS: dict[str, dict[str, list[str]]] = {
    # The template editor (only where CKEditor is shown: add and change of a template).
    "admin:templates_lib_template_add": CKEDITOR,
    "admin:templates_lib_template_change": CKEDITOR,
    # Rendered email HTML in a sandboxed iframe.
    "admin:templates_lib_template_preview": EMAIL_PREVIEW,
    "admin:returns_mail_triggerrule_test": EMAIL_PREVIEW,
    "api-docs": SWAGGER_UI,
}

BASE_DIRECTIVES = {
    "default-src": [SELF],
    "script-src": [SELF],
    "style-src": [SELF],
    # Style attributes (not <style> blocks) in a few admin templates: they cannot run code, and
    # with img-src 'self' they cannot send anything elsewhere either.
    "style-src-attr": [UNSAFE_INLINE],
    "img-src": [SELF, "data:"],
    "font-src": [SELF],
    "connect-src": [SELF],
    "frame-src": [SELF],
    "child-src": [SELF],
    "object-src": [NONE],
    "base-uri": [SELF],
    "form-action": [SELF],
    "frame-ancestors": [NONE],  # as X_FRAME_OPTIONS = "DENY"
}


class ViewExceptionsCSPMiddleware(CSPMiddleware):
    """django-csp's middleware, plus VIEW_EXCEPTIONS for the views listed there (a view's own
    csp decorator, if any, wins)."""

    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        match = getattr(request, "resolver_match", None)
        extra = VIEW_EXCEPTIONS.get(match.view_name) if match is not None else None
        if extra and parts.update is None and not report_only:
            parts.update = extra
        return parts
