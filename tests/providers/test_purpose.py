"""One Purpose: a template's mail is transactional or promotional; an account serves one or both."""

from __future__ import annotations

import pytest

from providers.models import MAIL_PURPOSES, Purpose
from templates_lib.models import Template


@pytest.mark.parametrize(
    ("account", "mail", "served"),
    [
        ("both", "promotional", True),
        ("both", "transactional", True),
        ("promotional", "promotional", True),
        ("promotional", "transactional", False),
        ("transactional", "promotional", False),
        ("transactional", "transactional", True),
    ],
)
def test_an_account_serves_its_purpose_or_both(account, mail, served):
    assert Purpose.serves(account, mail) is served


def test_a_template_is_transactional_or_promotional_never_both():
    field = Template._meta.get_field("purpose")

    assert field.choices == MAIL_PURPOSES
    assert [value for value, _ in field.choices] == ["transactional", "promotional"]
