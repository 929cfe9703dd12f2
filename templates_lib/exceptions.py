"""Errors of the template library."""


class TemplateLibError(Exception):
    """Root of the template library's errors."""
