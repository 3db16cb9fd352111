using System.Text.Json;
using OnnxGpt.Templates;

namespace OnnxGpt.Tests.Templates.Jinja;

/// <summary>
/// The language itself, one feature per case. Expected strings are what Python's jinja2, configured as transformers
/// configures it, renders (tools/template-oracle/language_cases.py printed them).
/// </summary>
public sealed class JinjaLanguageTests
{
    [TestCase("Hello {{ name }}!", "{\"name\": \"World\"}", "Hello World!", TestName = "Renders_text_and_output")]
    [TestCase("{{ none }} {{ true }} {{ false }} {{ x }}", "{\"x\": null}", "None True False None", TestName = "Renders_none_true_false")]
    [TestCase("{{ 1 }} {{ 1.0 }} {{ 3 / 2 }} {{ 4 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 0.1 + 0.2 }} {{ 1e20 }} {{ 1e-5 }} {{ 1_000 }}", "{}", "1 1.0 1.5 2.0 3 -4 1 2 1024 0.30000000000000004 1e+20 1e-05 1000", TestName = "Renders_numbers")]
    [TestCase("{{ 'a\\nb\\t\\'c\\'' }}|{{ \"\\u00e9\\x41\" }}", "{}", "a\nb\t'c'|éA", TestName = "Renders_string_escapes")]
    [TestCase("{{ 'a' ~ 1 ~ none ~ true }}", "{}", "a1NoneTrue", TestName = "Renders_concat_tilde")]
    [TestCase("{{ [1, 'a', none, true, 1.5] }} {{ {'k': 'v', 'n': [1]} }} {{ (1,) }} {{ ('a', 2) }} {{ [\"it's\"] }}", "{}", "[1, 'a', None, True, 1.5] {'k': 'v', 'n': [1]} (1,) ('a', 2) [\"it's\"]", TestName = "Renders_repr_of_containers")]
    [TestCase("[{{ missing }}][{{ d.missing }}]", "{\"d\": {}}", "[][]", TestName = "Renders_undefined_prints_empty")]
    [TestCase("{{ m.role }} {{ m['content'] }} {{ m.get('x', 'dflt') }} {{ l[0] }} {{ l[-1] }} {{ l.1 }}", "{\"m\": {\"role\": \"user\", \"content\": \"hi\"}, \"l\": [1, 2, 3]}", "user hi dflt 1 3 2", TestName = "Renders_attribute_and_item")]
    [TestCase("{{ l[1:] }} {{ l[:-1] }} {{ l[::-1] }} {{ l[::2] }} {{ s[1:3] }} {{ s[::-1] }} {{ l[5:] }}", "{\"l\": [1, 2, 3, 4], \"s\": \"hello\"}", "[2, 3, 4] [1, 2, 3] [4, 3, 2, 1] [1, 3] el olleh []", TestName = "Renders_slicing")]
    [TestCase("{{ 'a' in 'cat' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 3 not in [1] }}", "{}", "True True True True", TestName = "Renders_in_not_in")]
    [TestCase("{{ 1 < 2 < 3 }} {{ 1 == 1.0 }} {{ 'a' < 'b' }} {{ [1, 2] == [1, 2] }} {{ 1 != 2 }} {{ true == 1 }}", "{}", "True True True True True True", TestName = "Renders_comparisons")]
    [TestCase("{{ 0 or 'x' }} {{ 1 and 'y' }} {{ not none }} {{ '' or [] }} {{ not 1 == 2 }}", "{}", "x y True [] True", TestName = "Renders_and_or_not")]
    [TestCase("{{ 'yes' if x else 'no' }} [{{ 'only' if not x }}]", "{\"x\": true}", "yes []", TestName = "Renders_inline_if")]
    [TestCase("{{ x is defined }} {{ y is undefined }} {{ none is none }} {{ 's' is string }} {{ 1 is number }} {{ 1 is integer }} {{ 1.5 is float }} {{ {} is mapping }} {{ [] is sequence }} {{ 's' is iterable }} {{ true is true }} {{ 0 is false }} {{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }} {{ x is not none }} {{ true is number }} {{ true is integer }}", "{\"x\": 1}", "True True True True True True True True True True True False True True True False True True False", TestName = "Renders_tests")]
    [TestCase("{% for n in [1, 2, 3] %}{% if n == 1 %}one{% elif n == 2 %}two{% else %}many{% endif %},{% endfor %}", "{}", "one,two,many,", TestName = "Renders_if_elif_else")]
    [TestCase("{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %}", "{}", "103TrueFalse3|212FalseFalse3|321FalseTrue3|", TestName = "Renders_for_loop_vars")]
    [TestCase("{% for x in [1, 2, 3] %}{{ loop.previtem }}-{{ loop.nextitem }};{% endfor %}", "{}", "-2;1-3;2-;", TestName = "Renders_for_previtem_nextitem")]
    [TestCase("{% for x in [] %}x{% else %}empty{% endfor %} {% for x in range(6) if x is odd %}{{ x }}{{ loop.index }}{% endfor %}", "{}", "empty 113253", TestName = "Renders_for_else_and_filter")]
    [TestCase("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k, v in d|items %}{{ k }}{% endfor %}{% for k in d %}{{ k }}{% endfor %}", "{\"d\": {\"b\": 1, \"a\": 2}}", "b=1;a=2;baba", TestName = "Renders_for_unpack_items")]
    [TestCase("{% set x = 1 %}{% for i in [1, 2] %}{% set x = x + i %}{{ x }}{% endfor %} {{ x }}", "{}", "23 1", TestName = "Renders_loop_scoping")]
    [TestCase("{% set ns = namespace(count=0, found=false) %}{% for i in [1, 2, 3] %}{% set ns.count = ns.count + i %}{% endfor %}{{ ns.count }} {{ ns.found }}", "{}", "6 False", TestName = "Renders_namespace")]
    [TestCase("{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}", "{}", "0134", TestName = "Renders_break_continue")]
    [TestCase("{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set block %}  In a block {{ a }}  {% endset %}[{{ block }}]{% set up | upper %}shout{% endset %}{{ up }}", "{}", "12[  In a block 1  ]SHOUT", TestName = "Renders_set_tuple_and_block")]
    [TestCase("{% macro greet(name, greeting='Hello') %}{{ greeting }}, {{ name }}!{% endmacro %}{{ greet('Ann') }} {{ greet('Bob', greeting='Hi') }}", "{}", "Hello, Ann! Hi, Bob!", TestName = "Renders_macro_and_defaults")]
    [TestCase("{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}bold{% endcall %}", "{}", "<b>bold</b>", TestName = "Renders_call_block")]
    [TestCase("{% filter upper %}quiet {{ 'words' }}{% endfilter %}", "{}", "QUIET WORDS", TestName = "Renders_filter_block")]
    [TestCase("{% generation %}assistant text{% endgeneration %}", "{}", "assistant text", TestName = "Renders_generation_block")]
    [TestCase("{% if false %}{{ raise_exception('never') }}{% endif %}ok", "{}", "ok", TestName = "Renders_raise_inside_false_branch")]
    [TestCase("{{ '  x  '|trim }}|{{ 'ab'|upper }}|{{ 'AB'|lower }}|{{ 'hello world-wide'|title }}|{{ 'hELLO'|capitalize }}|{{ 'aXbX'|replace('X', '-') }}|{{ 'one two  three'|wordcount }}|{{ 42|string }}|{{ 'x'|safe }}", "{}", "x|AB|ab|Hello World-Wide|Hello|a-b-|3|42|x", TestName = "Renders_filters_text")]
    [TestCase("{{ [3, 1, 2]|sort }} {{ ['b', 'A', 'c']|sort }} {{ [1, 2]|reverse|list }} {{ [1, 1, 2]|unique|list }} {{ [1, 2, 3]|first }} {{ [1, 2, 3]|last }} {{ [1, 2]|length }} {{ 'abc'|count }} {{ [1, 2]|join(', ') }} {{ 'ab'|list }} {{ [1, 2, 3]|sum }} {{ [4, 2, 8]|max }} {{ [4, 2, 8]|min }}", "{}", "[1, 2, 3] ['A', 'b', 'c'] [2, 1] [1, 2] 1 3 2 3 1, 2 ['a', 'b'] 6 8 2", TestName = "Renders_filters_lists")]
    [TestCase("{{ users|selectattr('active')|map(attribute='name')|join(',') }} {{ users|rejectattr('active')|map(attribute='name')|list }} {{ users|selectattr('role', 'equalto', 'admin')|list|length }} {{ [1, 2, 3, 4]|select('even')|list }} {{ [1, 2, 3]|reject('odd')|list }} {{ ['a', 'b']|map('upper')|list }} {{ users|sort(attribute='name', reverse=true)|map(attribute='name')|join }}", "{\"users\": [{\"name\": \"ann\", \"active\": true, \"role\": \"admin\"}, {\"name\": \"bob\", \"active\": false, \"role\": \"user\"}, {\"name\": \"cy\", \"active\": true, \"role\": \"user\"}]}", "ann,cy ['bob'] 1 [2, 4] [2] ['A', 'B'] cybobann", TestName = "Renders_filters_select_map")]
    [TestCase("{{ '42'|int }} {{ '4.7'|int }} {{ 'x'|int }} {{ 'x'|int(7) }} {{ '2.5'|float }} {{ 3|float }} {{ -3|abs }} {{ 2.567|round(2) }} {{ 2.5|round }}", "{}", "42 4 0 7 2.5 3.0 3 2.57 2.0", TestName = "Renders_filters_numbers")]
    [TestCase("{{ missing|default('d') }} {{ ''|default('e') }} {{ ''|default('f', true) }} {{ none|default('g') }} {{ missing|d('h') }}", "{}", "d  f None h", TestName = "Renders_filter_default")]
    [TestCase("[{{ 'a\\nb\\n\\nc'|indent(2) }}] [{{ 'a\\nb'|indent(4, true) }}] [{{ 'a\\n\\nb'|indent('> ', blank=true) }}]", "{}", "[a\n  b\n\n  c] [    a\n    b] [a\n> \n> b]", TestName = "Renders_filter_indent")]
    [TestCase("{{ {'b': [1, 2.5, none, true], 'a': 'é \"q\" \\n'}|tojson }} {{ 'x'|tojson }} {{ [] |tojson }} {{ {'k': {'n': 1}}|tojson(indent=2) }}", "{}", "{\"b\": [1, 2.5, null, true], \"a\": \"é \\\"q\\\" \\n\"} \"x\" [] {\n  \"k\": {\n    \"n\": 1\n  }\n}", TestName = "Renders_tojson")]
    [TestCase("{{ tool|tojson }}", "{\"tool\": {\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Get the current weather in a city.\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\", \"description\": \"The city, e.g. Paris\"}, \"unit\": {\"type\": \"string\", \"enum\": [\"celsius\", \"fahrenheit\"]}}, \"required\": [\"city\"]}}}}", "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Get the current weather in a city.\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\", \"description\": \"The city, e.g. Paris\"}, \"unit\": {\"type\": \"string\", \"enum\": [\"celsius\", \"fahrenheit\"]}}, \"required\": [\"city\"]}}}", TestName = "Renders_tojson_of_tool")]
    [TestCase("{{ '  a b  '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '  a'.lstrip() }}|{{ 'a  '.rstrip() }}|{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith(('x', 'c')) }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a-b-c'.split('-', 1) }}|{{ 'aaa'.replace('a', 'b', 2) }}|{{ 'Ab'.upper() }}{{ 'Ab'.lower() }}|{{ 'ab cd'.title() }}|{{ '{} and {}'.format(1, 'x') }}|{{ '{name}!'.format(name='N') }}", "{}", "a b|a|a|a|True|True|['a', 'b', '', 'c']|['a', 'b']|['a', 'b-c']|bba|ABab|Ab Cd|1 and x|N!", TestName = "Renders_string_methods")]
    [TestCase("{{ d.keys()|list }} {{ d.values()|list }} {{ d.items()|list }} {{ d.get('a') }} {{ d.get('z') }}", "{\"d\": {\"a\": 1, \"b\": 2}}", "['a', 'b'] [1, 2] [('a', 1), ('b', 2)] 1 None", TestName = "Renders_dict_methods")]
    [TestCase("a  {{- ' b ' -}}  c\n  {%- if true %}  d{% endif -%}\n\n  e", "{}", "a b c  de", TestName = "Renders_whitespace_control")]
    [TestCase("<ul>\n    {% for x in [1, 2] %}\n    <li>{{ x }}</li>\n    {% endfor %}\n</ul>\n", "{}", "<ul>\n    <li>1</li>\n    <li>2</li>\n</ul>", TestName = "Renders_trim_and_lstrip_blocks")]
    [TestCase("x\n    {%+ if true %}y{% endif %}\n", "{}", "x\n    y", TestName = "Renders_lstrip_disabled_with_plus")]
    [TestCase("a{# a comment #}b\n  {# own line #}\nc{#- stripped -#}  d", "{}", "ab\ncd", TestName = "Renders_comments")]
    [TestCase("{% raw %}{{ not rendered }}{% endraw %}", "{}", "{{ not rendered }}", TestName = "Renders_raw_block")]
    [TestCase("{{ strftime_now('%Y-%m-%d %H:%M %b %B %a %A %d') }}", "{}", "2026-07-26 09:05 Jul July Sun Sunday 26", TestName = "Renders_strftime_now")]
    [TestCase("{% set d = {'z': 1, 'a': 2} %}{{ d }} {{ d['z'] }} {{ d|length }}", "{}", "{'z': 1, 'a': 2} 1 2", TestName = "Renders_dict_literal_order_and_access")]
    [TestCase("{{ [1] + [2, 3] }} {{ 'ab' * 3 }} {{ '%s-%d' % ('x', 4) }}", "{}", "[1, 2, 3] ababab x-4", TestName = "Renders_list_concatenation")]
    [TestCase("{% for a in [1, 2] %}{% for b in 'xy' %}{{ a }}{{ b }}{{ loop.index }}{% endfor %}{{ loop.index }};{% endfor %}", "{}", "1x11y21;2x12y22;", TestName = "Renders_nested_loops_loop_var")]
    [TestCase("{% set ns = namespace(last=-1) %}{% for m in messages[::-1] %}{% if m.role == 'user' and ns.last == -1 %}{% set ns.last = messages|length - 1 - loop.index0 %}{% endif %}{% endfor %}{{ ns.last }}", "{\"messages\": [{\"role\": \"user\"}, {\"role\": \"assistant\"}, {\"role\": \"user\"}, {\"role\": \"assistant\"}]}", "2", TestName = "Renders_messages_reverse_scan")]
    public void Renders_as_python_jinja2(string template, string variablesJson, string expected)
    {
        Assert.That(Render(template, variablesJson), Is.EqualTo(expected));
    }

    [TestCase("{{ raise_exception('Roles must alternate') }}", "Roles must alternate", TestName = "Fails_raise_exception")]
    [TestCase("{{ missing.attr }}", "'missing' is undefined", TestName = "Fails_undefined_attribute_of_undefined")]
    [TestCase("{{ missing + 1 }}", "'missing' is undefined", TestName = "Fails_undefined_in_arithmetic")]
    [TestCase("{{ none + 'x' }}", "unsupported operand type(s) for +: 'NoneType' and 'str'", TestName = "Fails_none_plus_string")]
    public void Fails_as_python_jinja2(string template, string message)
    {
        var ex = Assert.Throws<ChatTemplateException>(() => Render(template, "{}"));
        Assert.That(ex!.Message, Does.EndWith(message));
    }

    [Test]
    public void Unsupported_syntax_fails_at_parse_naming_line_column_and_construct()
    {
        var ex = Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse("line one\n{% if x %}\n  {% include 'other.jinja' %}{% endif %}"));
        Assert.Multiple(() =>
        {
            Assert.That(ex!.IsSyntaxError, Is.True);
            Assert.That((ex.Line, ex.Column), Is.EqualTo((3, 6)));
            Assert.That(ex.Message, Is.EqualTo("Chat template syntax error at line 3, column 6: the 'include' statement is not supported in chat templates"));
        });
    }

    [TestCase("{{ x|nosuchfilter }}", 1, 6, "no filter named 'nosuchfilter'")]
    [TestCase("{% if x %}never closed", 1, 23, "unexpected end of template; expected '{% elif %}' or '{% else %}' or '{% endif %}'")]
    [TestCase("{{ x is nosuchtest }}", 1, 9, "no test named 'nosuchtest'")]
    [TestCase("ok\n{{ (1 + }}", 2, 1, "missing end of tag '}}'")]
    [TestCase("{{ 1 +  }}", 1, 9, "unexpected end of the expression '}}'")]
    [TestCase("{% for x in y recursive %}{% endfor %}", 1, 15, "recursive loops are not supported in chat templates")]
    public void Syntax_errors_name_their_position(string template, int line, int column, string reason)
    {
        var ex = Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse(template));
        Assert.That((ex!.Line, ex.Column, ex.Message), Is.EqualTo((line, column, $"Chat template syntax error at line {line}, column {column}: {reason}")));
    }

    [Test]
    public void Render_errors_name_the_failing_expression()
    {
        var template = ChatTemplate.Parse("a\n  {{ messages[0].content + 1 }}");
        var ex = Assert.Throws<ChatTemplateException>(() => template.Render(new Dictionary<string, object?> { ["messages"] = new[] { new Dictionary<string, object?> { ["content"] = "x" } } }));
        Assert.That((ex!.Line, ex.Column, ex.IsSyntaxError), Is.EqualTo((2, 26, false)));
        Assert.That(ex.Message, Is.EqualTo("Chat template error at line 2, column 26: unsupported operand type(s) for +: 'str' and 'int'"));
    }

    [Test]
    public void Raise_exception_carries_the_template_message_alone()
    {
        var ex = Assert.Throws<ChatTemplateException>(() => Render("{% if true %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}", "{}"));
        Assert.That((ex!.RaisedByTemplate, ex.Message), Is.EqualTo((true, "Only user and assistant roles are supported!")));
    }

    [Test]
    public void Append_changes_the_list()
    {
        Assert.That(Render("{% set l = [] %}{% for x in 'ab' %}{% set _ = l.append(x) %}{% endfor %}{{ l }}", "{}"), Is.EqualTo("['a', 'b']"));
    }

    [Test]
    public void Dotnet_values_are_converted()
    {
        var template = ChatTemplate.Parse("{{ n }} {{ f }} {{ l }} {{ d.k }} {{ b }}");
        var text = template.Render(new Dictionary<string, object?>
        {
            ["n"] = 3,
            ["f"] = 0.5f,
            ["l"] = new List<string> { "x" },
            ["d"] = new Dictionary<string, object?> { ["k"] = "v" },
            ["b"] = false,
        });
        Assert.That(text, Is.EqualTo("3 0.5 ['x'] v False"));
    }

    private static string Render(string template, string variablesJson)
    {
        using var variables = JsonDocument.Parse(variablesJson);
        var values = variables.RootElement.EnumerateObject().Select(p => new KeyValuePair<string, object?>(p.Name, p.Value.Clone())).ToList();
        return ChatTemplate.Parse(template).Render(values, FixedClock.OracleNow);
    }
}
