"""Saving a template checks syntax, variables and HTML, and names the line or the variable."""

from __future__ import annotations

import pytest

from templates_lib.validation import layout_errors, template_errors

pytestmark = pytest.mark.django_db


def errors(**fields):
    base = {"subject": "Refund for {{return_id}}", "html": "<p>Hi</p>", "text": ""}
    base.update(fields)
    event_keys = base.pop("event_keys", ["refund.processed"])
    return template_errors(event_keys=event_keys, **base)


def test_valid_template_has_no_errors():
    assert errors(html="{{#each items}}<p>{{name}} {{../refund.amount}}</p>{{/each}}") == {}


def test_unknown_variable_is_named_with_its_line():
    result = errors(html="<p>Hi</p>\n<p>{{refund.amount}}</p>\n<p>{{label_url}}</p>")

    assert result == {
        "html": ['Unknown variable "label_url" at line 3: Refund processed do not provide it.']
    }


def test_variables_must_be_provided_by_every_event_type():
    # return.label_created has label_url, refund.processed does not.
    result = errors(html="{{label_url}}", event_keys=["return.label_created", "refund.processed"])

    assert "label_url" in result["html"][0]
    assert errors(html="{{label_url}}", event_keys=["return.label_created"]) == {}


def test_syntax_error_names_the_line():
    result = errors(html="<p>a</p>\n{{#if refund}}\n<p>b</p>")

    [message] = result["html"]
    assert message.startswith("Syntax error at line 2")


def test_subject_and_text_are_checked_too():
    result = errors(subject="Hi {{nobody}}", text="{{#each}}")

    assert "nobody" in result["subject"][0]
    assert result["text"][0].startswith("Syntax error at line 1")


def test_script_is_refused_at_save():
    result = errors(html="<p>Hi</p><script>alert(1)</script>")

    assert result == {"html": ["<script> is not allowed in email HTML."]}


def test_unknown_event_type_is_an_error():
    assert errors(event_keys=["parcel_lost"])["event_types"] == ["Unknown event types: parcel_lost"]


def test_layout_needs_exactly_one_body_and_brand_variables_only():
    assert layout_errors(html="<div>{{body}}</div>") == []
    assert layout_errors(html="<div></div>") == [
        "The layout must contain {{body}} exactly once (found 0)."
    ]
    assert 'Unknown variable "return_id"' in layout_errors(html="{{body}}{{return_id}}")[0]


ONERROR_ON_IMG = ["the onerror attribute on <img> is not allowed in email HTML."]


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        # An attribute value that looks like a comment opening: a browser sees the <img>.
        ('<p title="<!--">x</p><img src=x onerror=alert(1)><p title="-->">y</p>', ONERROR_ON_IMG),
        # A Handlebars comment renders to nothing: what is left is a live handler.
        ("<img src=x title='>' alt={{!-- --}}x onerror=alert(1)>", ONERROR_ON_IMG),
        (
            '<p {{!-- x="--}}onerror=alert(1)>x</p>',
            ["the onerror attribute on <p> is not allowed in email HTML."],
        ),
        # "--!>" ends an HTML comment in browsers.
        ("<!-- a --!><img src=x onerror=alert(1)> -->", ONERROR_ON_IMG),
        ("<IMG SRC=x ONERROR=alert(1)>", ONERROR_ON_IMG),
        ("<img src=x onerror=alert(1)//>", ONERROR_ON_IMG),
        (
            "<svg onload=alert(1)><circle r=1></circle></svg>",
            [
                "<svg> is not allowed in email HTML.",
                "<circle> is not allowed in email HTML.",
            ],
        ),
        (
            '<a href="jav&#x61;script&colon;alert(1)">x</a><a href=" java&#9;script:alert(2)">y</a>',
            ['a "javascript:" link on <a> is not allowed in email HTML.'],
        ),
        (
            '<table><tr><td><a href="{{label_url}}" title="{{carrier}}">{{#if carrier}}'
            "{{carrier}}{{/if}}</a></td></tr></table>{{!-- <script>x</script> --}}",
            [],
        ),
    ],
)
def test_html_is_checked_as_a_browser_parses_it(html, expected):
    assert errors(html=html, event_keys=["return.label_created"]).get("html", []) == expected


def test_layout_html_is_checked_as_a_browser_parses_it():
    html = '<div>{{body}}</div><p title="<!--">x</p><img src=x onerror=alert(1)><p title="-->">'

    assert layout_errors(html=html) == ONERROR_ON_IMG
