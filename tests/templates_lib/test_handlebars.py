"""The Handlebars engine on its own: rendering, syntax errors, references, spans, raw source.

Expected outputs are handlebars.js 4.7.8's (test_handlebars_parity.py checks the same ground
against handlebars.js itself)."""

from __future__ import annotations

import dataclasses
import math

import pytest

from templates_lib.handlebars import (
    HandlebarsError,
    Program,
    TemplateSyntaxError,
    TokenSpan,
    VariableRef,
    parse,
    render,
    to_raw_source,
    token_spans,
    variable_references,
)

# --- values and paths ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("text", "text"),
        ("", ""),
        (None, ""),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (-0.0, "0"),
        (42, "42"),
        (-7, "-7"),
        (1.0, "1"),
        (12.5, "12.5"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (123456789.125, "123456789.125"),
        (1e-6, "0.000001"),
        (1e-7, "1e-7"),
        (-1.5e-9, "-1.5e-9"),
        (2**60, "1152921504606847000"),  # ints become doubles, as in JSON.parse
        (2**70, "1.1805916207174113e+21"),
        (10**400, "Infinity"),
        (math.nan, "NaN"),
        (-math.inf, "-Infinity"),
        ([1, "a", None, True], "1,a,,true"),
        ([1, [2, [3, None]], []], "1,2,3,,"),
        ((1, 2), "1,2"),
        ({"a": 1}, "[object Object]"),
        ([{"a": 1}, 2], "[object Object],2"),
    ],
)
def test_values_print_as_javascript_prints_them(value, expected):
    assert render("{{v}}", {"v": value}) == expected
    assert render("{{v}}", {"v": value}, escape=False) == expected


def test_every_html_special_character_is_escaped_as_handlebars_js_does():
    value = "& < > \" ' ` = / \\ é"
    assert render("{{v}}", {"v": value}) == "&amp; &lt; &gt; &quot; &#x27; &#x60; &#x3D; / \\ é"
    assert render("{{v}}", {"v": ["<a>", "b&c"]}) == "&lt;a&gt;,b&amp;c"


def test_escape_false_outputs_every_value_as_is():
    source = "{{a}} {{#each l}}{{this}}{{/each}} {{b.c}}"
    context = {"a": "<b>Tom & Jerry</b>", "l": ["'", '"'], "b": {"c": "x=y"}}
    assert render(source, context, escape=False) == "<b>Tom & Jerry</b> '\" x=y"
    assert render(source, context) == ("&lt;b&gt;Tom &amp; Jerry&lt;/b&gt; &#x27;&quot; x&#x3D;y")


def test_raw_output_needs_allow_raw_and_is_never_escaped():
    program = parse("{{{a}}}|{{& a}}|{{a}}|{{~{a}~}}", allow_raw=True)
    assert render(program, {"a": "<i>"}) == "<i>|<i>|&lt;i&gt;|<i>"
    with pytest.raises(TemplateSyntaxError):
        render("{{{a}}}", {"a": "<i>"})


def test_paths():
    context = {
        "a": {"b": {"c": "deep"}, "n": 0, "s": "", "f": False, "l": [1, 2, 3], "t": "héllo😀"},
        "name": "root",
        "first-name": "dash",
        "$x": "dollar",
    }
    assert render("{{a.b.c}}|{{this.name}}|{{./name}}|{{this}}", context) == (
        "deep|root|root|[object Object]"
    )
    assert render("{{first-name}}|{{$x}}|{{a.missing.deeper}}|{{nope}}", context) == (
        "dash|dollar||"
    )
    # Lookups on a falsy value give nothing, except `length` on strings and lists.
    assert render("{{a.n.x}}|{{a.s.x}}|{{a.f.x}}|{{a.s.length}}", context) == "|||0"
    assert render("{{a.l.length}}|{{a.t.length}}|{{a.b.length}}", context) == "3|7|"


def test_root_paths_stop_at_a_falsy_step_and_print_it():
    # handlebars.js reads @root paths with `&&`: a falsy value on the way is the result.
    context = {"n": 0, "f": False, "s": "", "z": None, "o": {"v": 1}}
    assert render("{{@root.n.x}}|{{@root.f.x}}|{{@root.s.length}}|{{@root.z.x}}", context) == (
        "0|false||"
    )
    assert render("{{#with o}}{{@root.o.v}}{{/with}}", context) == "1"


def test_missing_values_never_raise():
    assert (
        render("{{a}}{{a.b.c}}{{#each a}}x{{/each}}{{#with a}}y{{/with}}{{#if a}}z{{/if}}", {})
        == ""
    )


# --- blocks ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "truthy"),
    [
        (True, True),
        (False, False),
        (None, False),
        (0, False),
        (0.0, False),
        (math.nan, False),
        (1, True),
        (-1, True),
        ("", False),
        (" ", True),
        ("0", True),
        ("false", True),
        ([], False),
        ([0], True),
        ({}, True),
    ],
)
def test_if_and_unless_use_javascript_truthiness(value, truthy):
    assert render("{{#if v}}T{{else}}F{{/if}}", {"v": value}) == ("T" if truthy else "F")
    assert render("{{#unless v}}F{{else}}T{{/unless}}", {"v": value}) == ("T" if truthy else "F")


def test_if_without_else_and_missing_condition():
    assert render("a{{#if x}}b{{/if}}c", {}) == "ac"
    assert render("a{{#unless x}}b{{/unless}}c", {}) == "abc"


def test_else_if_chains():
    source = "{{#if a}}A{{else if b}}B{{else unless c}}notC{{else}}C{{/if}}"
    assert render(source, {"a": 1}) == "A"
    assert render(source, {"b": 1}) == "B"
    assert render(source, {}) == "notC"
    assert render(source, {"c": 1}) == "C"
    chain = "{{#if a}}A{{else each l}}{{this}}{{else with o}}{{v}}{{else}}none{{/if}}"
    assert render(chain, {"l": [1, 2]}) == "12"
    assert render(chain, {"o": {"v": "V"}}) == "V"
    assert render(chain, {"l": [], "o": []}) == "none"


def test_each_over_a_list_with_data_variables():
    source = "{{#each l}}[{{@index}}{{@key}} {{@first}}/{{@last}} {{this}}]{{/each}}"
    assert render(source, {"l": ["a", "b", "c"]}) == (
        "[00 true/false a][11 false/false b][22 false/true c]"
    )
    assert render("{{#each l}}{{@first}}{{@last}}{{/each}}", {"l": [1]}) == "truetrue"


def test_each_over_a_dict_in_javascript_key_order():
    source = "{{#each d}}{{@key}}={{this}}@{{@index}}{{#if @last}}.{{else}},{{/if}}{{/each}}"
    assert render(source, {"d": {"b": 1, "a": 2}}) == "b=1@0,a=2@1."
    # Object.keys lists array-index keys first, in numeric order.
    assert render(source, {"d": {"x": 1, "10": 2, "2": 3, "-1": 4}}) == (
        "2=3@0,10=2@1,x=1@2,-1=4@3."
    )


@pytest.mark.parametrize("value", [[], {}, None, "", "text", 0, 5, True, False])
def test_each_else_for_nothing_to_iterate(value):
    assert render("{{#each v}}x{{else}}empty{{/each}}", {"v": value}) == "empty"


def test_nested_each_and_parent_paths():
    context = {
        "return_id": "R1",
        "orders": [
            {"id": "o1", "items": [{"sku": "a"}, {"sku": "b"}]},
            {"id": "o2", "items": []},
        ],
    }
    source = (
        "{{#each orders}}{{id}}:{{#each items}}{{sku}}@{{../id}}/{{../../return_id}}/"
        "{{@root.return_id}};{{else}}none of {{id}}{{/each}} {{/each}}"
    )
    assert render(source, context) == "o1:a@o1/R1/R1;b@o1/R1/R1; o2:none of o2 "


def test_parent_paths_skip_blocks_that_keep_the_context():
    # {{#if}} does not push a context: ../ inside it is the each's parent.
    context = {"x": "root", "l": [{"x": "item", "ok": True}]}
    assert render("{{#each l}}{{#if ok}}{{../x}}|{{x}}{{/if}}{{/each}}", context) == "root|item"
    assert (
        render(
            "{{#with o}}{{#with this}}{{../x}}{{/with}}{{/with}}", {"o": {"x": "in"}, "x": "out"}
        )
        == "out"
    )


def test_with_and_its_else():
    assert (
        render("{{#with o}}{{a}}-{{../b}}{{else}}none{{/with}}", {"o": {"a": 1}, "b": 2}) == "1-2"
    )
    for empty in (None, False, "", [], math.nan):
        assert render("{{#with o}}x{{else}}none{{/with}}", {"o": empty}) == "none"
    # Not empty for handlebars.js: 0 and {}.
    assert render("{{#with o}}[{{this}}]{{else}}none{{/with}}", {"o": 0}) == "[0]"
    assert render("{{#with o}}[{{this}}]{{else}}none{{/with}}", {"o": {}}) == "[[object Object]]"


def test_a_helper_on_a_null_context_sees_an_empty_object():
    # handlebars.js passes `container.nullContext` ({}) as `this` when the context is null.
    assert render(
        "{{#each l}}[{{#unless this}}{{this}}{{/unless}}]{{/each}}", {"l": [None, 0]}
    ) == ("[[object Object]][0]")


def test_comments_render_nothing():
    source = "a{{! short }}b{{!-- long }} with braces --}}c{{!--}}d{{!-- {{x}} --}}e"
    assert render(source, {"x": 1}) == "abcde"


def test_backslash_escapes_a_mustache():
    assert render("\\{{a}} \\\\{{a}} {{a}}", {"a": "A"}) == "{{a}} \\A A"
    assert render("\\{{{{a}}", {"a": "A"}) == "{{A"


# --- whitespace -----------------------------------------------------------------------------


def test_tilde_strips_all_whitespace_on_its_side():
    context = {"a": "A", "ok": True}
    assert render("x  {{~a~}}  \n y", context) == "xAy"
    assert render("x  {{~a}}  y", context) == "xA  y"
    assert render("[ {{~#if ok~}} \n yes \n {{~/if~}} ]", context) == "[yes]"
    assert render("[ {{#if ok}} y {{~else~}} n {{/if}} ]", {}) == "[ n  ]"
    assert render("a \n {{~! comment ~}} \n b", {}) == "ab"


def test_standalone_block_lines_disappear():
    source = "<ul>\n  {{#each l}}\n  <li>{{this}}</li>\n  {{/each}}\n</ul>\n"
    assert render(source, {"l": [1, 2]}) == "<ul>\n  <li>1</li>\n  <li>2</li>\n</ul>\n"
    source = "{{#if a}}\n  yes\n{{else}}\n  no\n{{/if}}\n"
    assert render(source, {"a": 1}) == "  yes\n"
    assert render(source, {}) == "  no\n"


def test_standalone_lines_with_crlf_and_tabs():
    source = "a\r\n\t{{#if x}}\r\n\tb\r\n\t{{/if}}\r\nc"
    assert render(source, {"x": 1}) == "a\r\n\tb\r\nc"
    assert render("  {{! note }}  \r\nx", {}) == "x"


def test_tags_sharing_a_line_with_text_are_not_standalone():
    assert render("a {{#if x}}\nb\n{{/if}} c", {"x": 1}) == "a \nb\n c"
    assert render("  {{v}}\n", {"v": 1}) == "  1\n"  # a variable is never standalone


def test_standalone_at_the_start_and_end_of_the_template():
    assert render("{{#if x}}\nA\n{{/if}}", {"x": 1}) == "A\n"
    assert render("  {{#if x}}  \nA\n  {{/if}}  ", {"x": 1}) == "A\n"


def test_trailing_blanks_on_the_line_before_a_standalone_tag_stay():
    # JavaScript's /[ \t]+$/ does not match before a final "\n" (js2py's does; see the parity
    # module's deviation tests).
    assert render("x\n  \n{{#if a}}\ny\n{{/if}}\n", {"a": 1}) == "x\n  \ny\n"


# --- parse ----------------------------------------------------------------------------------


def test_parse_returns_an_immutable_cached_program():
    program = parse("Hi {{name}}{{#if x}}!{{/if}}")
    assert isinstance(program, Program)
    assert parse("Hi {{name}}{{#if x}}!{{/if}}") is program
    text, mustache, block = program.body
    assert (text.value, text.line, text.column) == ("Hi ", 1, 1)
    assert (mustache.path.parts, mustache.escaped, mustache.column) == (("name",), True, 4)
    assert (block.helper, block.param.original, block.column) == ("if", "x", 12)
    with pytest.raises(dataclasses.FrozenInstanceError):
        block.helper = "each"
    assert parse("{{{x}}}", allow_raw=True).body[0].escaped is False


def test_parse_rejects_what_is_not_a_string():
    with pytest.raises(TypeError):
        parse(b"{{x}}")


def test_render_rejects_a_context_that_is_not_a_mapping():
    with pytest.raises(TypeError):
        render("{{x}}", ["x"])


# (source, message, line, column)
SYNTAX_ERRORS = [
    ("a\n\n    {{#each items}}x", "unclosed {{#each}} block", 3, 5),
    ("{{#if a}}{{#with b}}{{/with}}", "unclosed {{#if}} block", 1, 1),
    ("{{#if a}}{{else if b}}", "unclosed {{#if}} block", 1, 1),
    (
        "{{#if a}}\n  x\n{{/each}}",
        "{{/each}} does not match {{#if}} opened at line 1, column 1",
        3,
        1,
    ),
    (
        "{{#if a}}\r\n  {{#each b}}\r\n{{/if}}",
        "{{/if}} does not match {{#each}} opened at line 2, column 3",
        3,
        1,
    ),
    ("x\n{{/if}}", "{{/if}} without a matching {{#if}}", 2, 1),
    ("x {{else}} y", "{{else}} outside a block", 1, 3),
    ("{{else if a}}", "{{else ...}} outside a block", 1, 1),
    (
        "{{#if a}}{{else}}{{else}}{{/if}}",
        "{{else}} after {{else}} in the {{#if}} block opened at line 1, column 1",
        1,
        18,
    ),
    (
        "{{#if a}}{{else}}{{else if b}}{{/if}}",
        "{{else ...}} after {{else}} in the {{#if}} block opened at line 1, column 1",
        1,
        18,
    ),
    ("{{#foo a}}{{/foo}}", "unknown block helper 'foo' (supported: if, unless, each, with)", 1, 4),
    (
        "{{#if a}}{{else foo b}}{{/if}}",
        "unknown block helper 'foo' (supported: if, unless, each, with)",
        1,
        17,
    ),
    ("{{#}}{{/}}", "{{#}} needs a block helper name (if, unless, each, with)", 1, 1),
    ("{{#if}}{{/if}}", "{{#if}} takes exactly one argument, got 0", 1, 1),
    ("{{#if a b}}{{/if}}", "{{#if}} takes exactly one argument, got 2", 1, 1),
    ("{{#each}}{{/each}}", "{{#each}} takes exactly one argument, got 0", 1, 1),
    ("{{#with a b}}{{/with}}", "{{#with}} takes exactly one argument, got 2", 1, 1),
    ("{{#unless}}{{/unless}}", "{{#unless}} takes exactly one argument, got 0", 1, 1),
    ("{{#if a}}{{else if}}{{/if}}", "{{else if}} takes exactly one argument, got 0", 1, 10),
    ("hello {{name", "unterminated {{ tag: no closing }}", 1, 7),
    ("x\n {{#if a}\n{{/if}}", "unterminated {{# tag: no closing }} before the next {{", 2, 2),
    ("{{!-- never closed }}", "unterminated comment: no closing --}}", 1, 1),
    ("ok\n{{! never closed", "unterminated comment: no closing }}", 2, 1),
    ("{{> header}}", "partials {{> ...}} are not supported", 1, 1),
    ("{{#> layout}}{{/layout}}", "partial blocks {{#> ...}} are not supported", 1, 1),
    ("{{* deco}}", "decorators {{* ...}} are not supported", 1, 1),
    ('{{#*inline "x"}}{{/inline}}', "decorators {{* ...}} are not supported", 1, 1),
    ("{{{{raw}}}}x{{{{/raw}}}}", "raw blocks {{{{...}}}} are not supported", 1, 1),
    ("{{^x}}{{/x}}", "inverse sections {{^x}} are not supported; use {{#unless x}}", 1, 1),
    ("{{#if a}}{{^}}{{/if}}", "{{^}} is not supported; use {{else}}", 1, 10),
    ("{{#if (eq a b)}}{{/if}}", "sub-expressions (...) are not supported", 1, 7),
    ("{{a (b)}}", "sub-expressions (...) are not supported", 1, 5),
    ("{{#each items key=1}}{{/each}}", "hash arguments (key=...) are not supported", 1, 15),
    ("{{a=b}}", "hash arguments (a=...) are not supported", 1, 3),
    ("{{#each a as |x|}}{{/each}}", "block parameters (as |...|) are not supported", 1, 11),
    (
        "{{{x}}}",
        "unescaped output {{{x}}} is not allowed here; use {{...}} so the value is HTML-escaped",
        1,
        1,
    ),
    (
        "a {{& x}}",
        "unescaped output {{& x}} is not allowed here; use {{...}} so the value is HTML-escaped",
        1,
        3,
    ),
    ("{{}}", "empty mustache {{}}", 1, 1),
    ("{{ ~}}", "empty mustache {{}}", 1, 1),
    ("{{a..b}}", "invalid path 'a..b': '..' may only start a path", 1, 3),
    ("{{a/b}}", "invalid path 'a/b': separate names with '.'", 1, 3),
    ("{{this/a}}", "invalid path 'this/a': separate names with '.'", 1, 3),
    ("{{a.this}}", "invalid path 'a.this': 'this' may only start a path", 1, 3),
    ("{{a/../b}}", "invalid path 'a/../b': separate names with '.'", 1, 3),
    ("{{a.[b c]}}", "invalid path 'a.[b c]': bracketed segments [..] are not supported", 1, 3),
    ("{{a.0.b}}", "invalid path 'a.0.b': numeric segments are not supported", 1, 3),
    ("{{a.true}}", "invalid path 'a.true': 'true' is not a valid name here", 1, 3),
    ("{{a.}}", "invalid path 'a.': it ends with '.'", 1, 3),
    ("{{a!}}", "'a!' is not a valid variable name", 1, 3),
    ("{{@}}", "invalid path '@': a name must follow '@'", 1, 3),
    (
        "{{@foo}}",
        "unknown data variable @foo (supported: @index, @key, @first, @last, @root.name)",
        1,
        3,
    ),
    ("{{@root}}", "invalid path '@root': @root needs a name after it, e.g. @root.name", 1, 3),
    ("{{@index.x}}", "invalid path '@index.x': @index has no properties", 1, 3),
    (
        "{{#each a}}{{@../index}}{{/each}}",
        "invalid path '@../index': '@' paths cannot go up with '../' in this subset",
        1,
        14,
    ),
    ("{{@index}}", "@index is only available inside {{#each}}", 1, 3),
    ("{{#with a}}\n{{@key}}{{/with}}", "@key is only available inside {{#each}}", 2, 3),
    ("{{#each a}}{{else}}{{@first}}{{/each}}", "@first is only available inside {{#each}}", 1, 22),
    ("{{#if @last}}{{/if}}", "@last is only available inside {{#each}}", 1, 7),
    ("{{#each @index}}{{/each}}", "{{#each}} needs an object or a list, not @index", 1, 9),
    (
        "{{../x}}",
        "'../x' goes above the top-level context ({{#if}} and {{#unless}} do not open a new context)",
        1,
        3,
    ),
    (
        "{{#each l}}{{#if a}}{{../../x}}{{/if}}{{/each}}",
        "'../../x' goes above the top-level context ({{#if}} and {{#unless}} do not open a new "
        "context)",
        1,
        23,
    ),
    ('{{"x"}}', 'literal value "x" is not supported; use a variable', 1, 3),
    ("{{1}}", "literal value 1 is not supported; use a variable", 1, 3),
    ("{{#if true}}{{/if}}", "literal value true is not supported; use a variable", 1, 7),
    ("{{foo bar}}", "unexpected 'bar' in {{foo}}: helpers and arguments are not supported", 1, 7),
    ("{{/if x}}", "unexpected 'x' in {{/if}}: helpers and arguments are not supported", 1, 7),
    ("{{#if a}}{{/}}", "{{/}} needs the name of the block it closes", 1, 10),
    (
        "{{log}}",
        "'log' is a Handlebars helper, not a variable; write {{this.log}} to read a variable "
        "of that name",
        1,
        3,
    ),
    (
        "{{lookup}}",
        "'lookup' is a Handlebars helper, not a variable; write {{this.lookup}} to read a "
        "variable of that name",
        1,
        3,
    ),
    (
        "p { color: {{c}}}",
        "'}}}' closes {{{...}}}, but this tag opens with '{{'; put a space before the third '}'",
        1,
        15,
    ),
    ("{{{a}}", "'{{{' must be closed with '}}}'", 1, 1),
    ("{{a}}}}", "unexpected '}}}}'", 1, 4),
    ("x\x00y", "NUL characters are not allowed", 1, 2),
]


@pytest.mark.parametrize(("source", "message", "line", "column"), SYNTAX_ERRORS)
def test_syntax_errors_say_what_and_where(source, message, line, column):
    with pytest.raises(TemplateSyntaxError) as caught:
        parse(source)
    error = caught.value
    assert (error.message, error.line, error.column) == (message, line, column)
    assert str(error) == f"line {line}, column {column}: {message}"
    assert isinstance(error, HandlebarsError)


def test_raw_output_errors_only_without_allow_raw():
    with pytest.raises(TemplateSyntaxError):
        parse("{{{x}}}")
    parse("{{{x}}} {{&x}}", allow_raw=True)


def test_columns_count_characters_and_lines_count_every_newline_style():
    with pytest.raises(TemplateSyntaxError) as caught:
        parse("é😀\r\nb\rc\n  ü {{/if}}")
    assert (caught.value.line, caught.value.column) == (4, 5)


def test_valid_names_and_keywords_inside_paths():
    # Handlebars reads these as names; they are variables here too.
    context = {"else_total": 1, "elsewhere": 2, "true": {"x": 3}, "a": {"if": 4}, "log": 5}
    source = "{{else_total}}{{elsewhere}}{{true.x}}{{a.if}}{{this.log}}{{ else_total }}"
    assert render(source, context) == "123451"


# --- variable_references --------------------------------------------------------------------


def refs(source: str) -> list[tuple[str, bool]]:
    return [(ref.path, ref.as_block) for ref in variable_references(source)]


def test_references_of_each():
    source = "{{#each items}}{{name}} {{../return_id}} {{this}}{{/each}}"
    assert variable_references(source) == [
        VariableRef("items", 1, 9, True),
        VariableRef("items[].name", 1, 18, False),
        VariableRef("return_id", 1, 27, False),
        VariableRef("items[]", 1, 44, False),
    ]


def test_references_of_with_root_and_else_branches():
    assert refs("{{#with refund}}{{amount}}{{else}}{{none}}{{/with}}") == [
        ("refund", True),
        ("refund.amount", False),
        ("none", False),
    ]
    assert refs("{{@root.x}} {{#each l}}{{@root.y.z}}{{@index}}{{else}}{{empty}}{{/each}}") == [
        ("x", False),
        ("l", True),
        ("y.z", False),
        ("empty", False),
    ]


def test_references_through_nested_blocks():
    source = (
        "{{#each orders}}{{#if paid}}{{#each items}}{{sku}}{{../id}}{{../../customer.name}}"
        "{{/each}}{{else if ../flag}}{{./note}}{{/if}}{{#with address}}{{city}}{{../id}}"
        "{{#with this}}{{zip}}{{/with}}{{/with}}{{/each}}"
    )
    assert refs(source) == [
        ("orders", True),
        ("orders[].paid", True),
        ("orders[].items", True),
        ("orders[].items[].sku", False),
        ("orders[].id", False),
        ("customer.name", False),
        ("flag", True),
        ("orders[].note", False),
        ("orders[].address", True),
        ("orders[].address.city", False),
        ("orders[].id", False),
        ("orders[].address", True),
        ("orders[].address.zip", False),
    ]


def test_references_of_the_root_context_and_raw_tags():
    assert refs("{{this}} {{{raw}}} {{#if .}}{{/if}}") == [("", False), ("raw", False), ("", True)]


def test_references_of_a_program_and_their_errors():
    program = parse("{{#each l}}{{a.b}}{{/each}}")
    assert variable_references(program) == [
        VariableRef("l", 1, 9, True),
        VariableRef("l[].a.b", 1, 14, False),
    ]
    with pytest.raises(TemplateSyntaxError):
        variable_references("{{#if x}}")


# --- to_raw_source --------------------------------------------------------------------------


def test_to_raw_source_triples_every_escaped_mustache_only():
    source = (
        "Hi {{name}}, {{~ order.id ~}}! {{#each items}}{{this}}{{else}}-{{/each}} "
        "{{{already}}} {{&amp}} {{! {{not}} }} \\{{literal}} {{else_x}}"
    )
    assert to_raw_source(source) == (
        "Hi {{{name}}}, {{~{ order.id }~}}! {{#each items}}{{{this}}}{{else}}-{{/each}} "
        "{{{already}}} {{&amp}} {{! {{not}} }} \\{{literal}} {{{else_x}}}"
    )


def test_to_raw_source_renders_as_escape_false_does():
    source = "  {{#if a}}\n{{a}} & {{b.c~}} \n  {{/if}}\n{{#each l}}{{this}}{{/each}}"
    context = {"a": "<a href='x'>", "b": {"c": '"q"'}, "l": ["<", ">"]}
    raw = parse(to_raw_source(source), allow_raw=True)
    assert render(raw, context) == render(source, context, escape=False)
    assert "&lt;" not in render(raw, context)


def test_to_raw_source_refuses_invalid_templates():
    with pytest.raises(TemplateSyntaxError):
        to_raw_source("{{#if a}}")


# --- token_spans ----------------------------------------------------------------------------


def test_token_spans_cover_every_tag():
    source = "a {{x}} {{#if y}}{{else}}{{/if}} {{!-- c --}} {{{r}}} {{&s}} {{else if z}} \\{{t}}"
    spans = token_spans(source)
    assert [(source[s.start : s.end], s.kind) for s in spans] == [
        ("{{x}}", "variable"),
        ("{{#if y}}", "open"),
        ("{{else}}", "else"),
        ("{{/if}}", "close"),
        ("{{!-- c --}}", "comment"),
        ("{{{r}}}", "raw"),
        ("{{&s}}", "raw"),
        ("{{else if z}}", "else"),
    ]
    assert spans[0] == TokenSpan(2, 7, "variable")


def test_token_spans_never_raise_on_broken_templates():
    source = "<td>{{#if a}}</td>{{b {{c}} {{/each}} {{oops"
    spans = token_spans(source)
    assert [source[s.start : s.end] for s in spans] == ["{{#if a}}", "{{c}}", "{{/each}}"]
    assert token_spans("{{!-- open comment") == []
    assert token_spans("") == []
