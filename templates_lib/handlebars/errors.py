"""The engine's errors: one root, and syntax errors that say where."""

from __future__ import annotations


class HandlebarsError(Exception):
    """Root of every error this engine raises."""


class TemplateSyntaxError(HandlebarsError):
    """The template is not valid Handlebars, or uses something outside the supported subset."""

    def __init__(self, message: str, line: int, column: int):
        super().__init__(f"line {line}, column {column}: {message}")
        self.message = message
        self.line = line
        self.column = column

    def __reduce__(self):
        return (type(self), (self.message, self.line, self.column))
