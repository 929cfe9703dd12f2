"""Reading a reply: the quoted history stripped, auto-replies recognised."""

from __future__ import annotations

import pytest

from analytics.services.reply_text import is_auto_reply, quoted_history_strip


@pytest.mark.parametrize(
    "text",
    [
        "Thanks, received.\n\nOn Tue, 1 Dec 2026 at 10:00, Shop <r@shop.example> wrote:\n> old",
        # An attribution wrapped onto two lines.
        "Thanks, received.\n\nOn Tue, 1 Dec 2026 at 10:00, Shop Returns\n<r@shop.example> wrote:\n"
        "> old",
        "Thanks, received.\n\n-----Original Message-----\nFrom: Shop\nSent: Tuesday\nold",
        "Thanks, received.\n\nFrom: Shop Returns <r@shop.example>\nSent: Tuesday, 1 December"
        "\nTo: Ada\nSubject: Your return\n\nold",
        "Thanks, received.\n________________________________\nFrom: Shop\nold",
        "Thanks, received.\n\nLe mar. 1 déc. 2026, Shop <r@shop.example> a écrit :\n> vieux",
        "> quoted first\nThanks, received.\n> more quoted",
        "Thanks, received.\r\n\r\nOn Tue, Shop wrote:\r\n> old\r\n",
    ],
    ids=[
        "gmail",
        "wrapped",
        "outlook-original",
        "outlook-from-sent",
        "outlook-rule",
        "french",
        "gt-lines",
        "crlf",
    ],
)
def test_quoted_history_is_stripped(text):
    assert quoted_history_strip(text) == "Thanks, received."


def test_a_from_line_without_a_sent_line_is_the_customers_own_words():
    text = "From: my new address is below\nada@example.com"
    assert quoted_history_strip(text) == text


def test_the_whole_reply_is_kept_when_nothing_is_quoted():
    assert quoted_history_strip("  Line one\nLine two  \n\n") == "Line one\nLine two"


@pytest.mark.parametrize(
    ("headers", "subject"),
    [
        ({"Auto-Submitted": "auto-replied"}, "Re: your return"),
        ({"auto-submitted": "auto-generated"}, "Re: your return"),
        ({"X-Autoreply": "yes"}, "Re: your return"),
        ({"X-Autorespond": "Out of office"}, "Re: your return"),
        ({"Precedence": "bulk"}, "Re: your return"),
        ({"Precedence": "junk"}, "Re: your return"),
        ({"Precedence": "auto_reply"}, "Re: your return"),
        ({}, "Out of Office: Re: your return"),
        ({}, "Automatic reply: Re: your return"),
        ({}, "AutoReply: away"),
        ({}, "Abwesenheitsnotiz: Re: Ihre Rücksendung"),
    ],
)
def test_auto_replies_are_recognised(headers, subject):
    assert is_auto_reply(headers, subject)


@pytest.mark.parametrize(
    ("headers", "subject"),
    [
        ({"Auto-Submitted": "no"}, "Re: your return"),
        ({"Precedence": "list"}, "Re: your return"),
        ({}, "Re: out of office hours, can I still return?"),
        ({}, "Re: your return"),
    ],
)
def test_a_persons_reply_is_not_an_auto_reply(headers, subject):
    assert not is_auto_reply(headers, subject)
