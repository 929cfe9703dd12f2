"""The operators of conditions (trigger rules and segments), with their labels. Apart from the
models so that the condition languages can be validated without importing them."""

CONDITION_OPERATORS = {
    "eq": "equals",
    "ne": "does not equal",
    "in": "is one of",
    "contains": "contains",
    "gt": "greater than",
    "lt": "less than",
    "set": "is set",
}
