"""Helpers of the returns_mail admin tests (this module holds no tests)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from templates_lib.catalogue import sample_context


def login(client, role: str, username: str | None = None):
    """Log `client` in as a staff user of `role` (the groups migrate creates)."""
    user = get_user_model().objects.create_user(
        username or role.replace(" ", "").lower(), "staff@shop.example", "pw", is_staff=True
    )
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return user


def refund_data(amount: str) -> dict:
    """The data of a refund.processed event with another amount."""
    data = {k: v for k, v in sample_context("refund.processed").items() if k == "items"}
    return {**data, "refund": {"amount": amount, "currency": "EUR", "method": "Visa"}}


def error_texts(response) -> list[str]:
    """Every error an admin add/change page shows: the form's and its inlines'."""
    texts = []
    for item in response.context["errors"]:
        texts.extend([item] if isinstance(item, str) else list(item))
    return texts
