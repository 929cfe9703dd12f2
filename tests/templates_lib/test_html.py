"""Email HTML: CSS inlined, allowlist applied, Handlebars tags left exactly where they were."""

from __future__ import annotations

from templates_lib.html import disallowed_html, email_html, html_to_text

ROWS = """<table>
{{#each items}}
<tr><td class="name">{{name}}</td></tr>
{{/each}}
</table>"""


def test_each_over_table_rows_stays_inside_the_table():
    html = email_html(ROWS, ".name { color: #123456; }")

    assert html.index("{{#each items}}") > html.index("<table>")
    assert html.index("{{/each}}") < html.index("</table>")
    assert '<td class="name" style="color: #123456;">{{name}}</td>' in html


def test_style_blocks_are_inlined_and_removed():
    html = email_html("<style>p { margin: 0 }</style><p>Hi</p>")

    assert "<style" not in html
    assert '<p style="margin: 0;">Hi</p>' in html


def test_scripts_handlers_and_javascript_links_never_survive():
    source = (
        '<p onclick="steal()">Hi</p><script>alert(1)</script>'
        '<a href="javascript:alert(2)">x</a><iframe src="https://evil.example"></iframe>'
        "<!-- <script>hidden()</script> -->"
    )

    html = email_html(source)

    for bad in ("script", "onclick", "javascript:", "iframe", "hidden()", "alert"):
        assert bad not in html
    assert "<p>Hi</p>" in html


def test_tags_inside_attributes_are_kept():
    html = email_html(
        '<a href="{{label_url}}" title="{{carrier}}">Label</a><img src="{{brand.logo_url}}" alt="">'
    )

    assert 'href="{{label_url}}"' in html
    assert 'title="{{carrier}}"' in html
    assert 'src="{{brand.logo_url}}"' in html


def test_disallowed_html_names_what_is_wrong():
    problems = disallowed_html(
        '<p onclick="x()">a</p><script>b</script><a href="javascript:c()">d</a>'
        '<a href="{{label_url}}">ok</a><img src="cid:logo">'
    )

    assert problems == ["the onclick attribute on <p>", "<script>", 'a "javascript:" link on <a>']


def test_plain_text_keeps_tags_and_links():
    text = html_to_text(
        '<h1>Hello {{customer.first_name}}</h1><p>Your label: <a href="{{label_url}}">download</a></p>'
        "{{#each items}}<p>{{name}} x {{quantity}}</p>{{/each}}"
    )

    assert "Hello {{customer.first_name}}" in text
    assert "{{label_url}}" in text
    assert "{{#each items}}" in text
    assert "{{name}} x {{quantity}}" in text
    assert "<" not in text


def test_handlebars_comments_are_dropped_before_the_html_tools_see_it():
    """A comment renders to nothing: it is neither checked nor stored at providers, so no
    unchecked HTML travels inside one."""
    source = '<p>Hi{{!-- <img src=x onerror="alert(1)"> --}}</p>{{! <script>x</script> }}'

    assert disallowed_html(source) == []
    assert email_html(source) == "<p>Hi</p>"
    assert html_to_text(source) == "Hi\n"


def test_expressions_work_in_attributes_and_text_raw_ones_too():
    source = (
        '<table><tr><td><a href="{{label_url}}" title="{{{carrier}}}">{{#if carrier}}'
        "{{{carrier}}}{{else}}{{tracking_number}}{{/if}}</a></td></tr></table>"
    )

    assert disallowed_html(source) == []
    assert email_html(source) == (
        '<table><tbody><tr><td><a href="{{label_url}}" title="{{{carrier}}}">{{#if carrier}}'
        "{{{carrier}}}{{else}}{{tracking_number}}{{/if}}</a></td></tr></tbody></table>"
    )


def test_source_text_cannot_pose_as_a_tag_placeholder():
    source = "<p>rmhb0x rmhb7x <!--rmhb:0--> {{name}}</p><!-- a note -->"

    assert email_html(source) == "<p>rmhb0x rmhb7x  {{name}}</p>"
    assert html_to_text(source) == "rmhb0x rmhb7x  {{name}}\n"


def test_links_and_handlers_are_named_as_what_they_are():
    problems = disallowed_html(
        '<a href="{{scheme}}:x">a</a><table><tr><td {{#if wide}}nowrap{{/if}}>b</td></tr></table>'
        "<link rel=stylesheet href=x.css><style>p {}</style>"
    )

    assert problems == [
        'a "{{scheme}}:" link on <a>',
        "the {{#if wide}}nowrap{{/if}} attribute on <td>",
        "<link>",
    ]
