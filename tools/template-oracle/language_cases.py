#!/usr/bin/python3
"""Prints the expected output of small templates, one per language feature, rendered by Python jinja2 configured as
transformers does; used to write the exact expected strings in JinjaLanguageTests.cs."""
import json, sys
sys.argv = sys.argv[:1]
exec(open(__file__.replace("language_cases.py", "oracle.py")).read().replace("\nmain()\n", "\n"))

CASES = [
    # (name, template, variables)
    ("text_and_output", "Hello {{ name }}!", {"name": "World"}),
    ("none_true_false", "{{ none }} {{ true }} {{ false }} {{ x }}", {"x": None}),
    ("numbers", "{{ 1 }} {{ 1.0 }} {{ 3 / 2 }} {{ 4 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 0.1 + 0.2 }} {{ 1e20 }} {{ 1e-5 }} {{ 1_000 }}", {}),
    ("string_escapes", "{{ 'a\\nb\\t\\'c\\'' }}|{{ \"\\u00e9\\x41\" }}", {}),
    ("concat_tilde", "{{ 'a' ~ 1 ~ none ~ true }}", {}),
    ("repr_of_containers", "{{ [1, 'a', none, true, 1.5] }} {{ {'k': 'v', 'n': [1]} }} {{ (1,) }} {{ ('a', 2) }} {{ [\"it's\"] }}", {}),
    ("undefined_prints_empty", "[{{ missing }}][{{ d.missing }}]", {"d": {}}),
    ("attribute_and_item", "{{ m.role }} {{ m['content'] }} {{ m.get('x', 'dflt') }} {{ l[0] }} {{ l[-1] }} {{ l.1 }}", {"m": {"role": "user", "content": "hi"}, "l": [1, 2, 3]}),
    ("slicing", "{{ l[1:] }} {{ l[:-1] }} {{ l[::-1] }} {{ l[::2] }} {{ s[1:3] }} {{ s[::-1] }} {{ l[5:] }}", {"l": [1, 2, 3, 4], "s": "hello"}),
    ("in_not_in", "{{ 'a' in 'cat' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 3 not in [1] }}", {}),
    ("comparisons", "{{ 1 < 2 < 3 }} {{ 1 == 1.0 }} {{ 'a' < 'b' }} {{ [1, 2] == [1, 2] }} {{ 1 != 2 }} {{ true == 1 }}", {}),
    ("and_or_not", "{{ 0 or 'x' }} {{ 1 and 'y' }} {{ not none }} {{ '' or [] }} {{ not 1 == 2 }}", {}),
    ("inline_if", "{{ 'yes' if x else 'no' }} [{{ 'only' if not x }}]", {"x": True}),
    ("tests", "{{ x is defined }} {{ y is undefined }} {{ none is none }} {{ 's' is string }} {{ 1 is number }} {{ 1 is integer }} {{ 1.5 is float }} {{ {} is mapping }} {{ [] is sequence }} {{ 's' is iterable }} {{ true is true }} {{ 0 is false }} {{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }} {{ x is not none }} {{ true is number }} {{ true is integer }}", {"x": 1}),
    ("if_elif_else", "{% for n in [1, 2, 3] %}{% if n == 1 %}one{% elif n == 2 %}two{% else %}many{% endif %},{% endfor %}", {}),
    ("for_loop_vars", "{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %}", {}),
    ("for_previtem_nextitem", "{% for x in [1, 2, 3] %}{{ loop.previtem }}-{{ loop.nextitem }};{% endfor %}", {}),
    ("for_else_and_filter", "{% for x in [] %}x{% else %}empty{% endfor %} {% for x in range(6) if x is odd %}{{ x }}{{ loop.index }}{% endfor %}", {}),
    ("for_unpack_items", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k, v in d|items %}{{ k }}{% endfor %}{% for k in d %}{{ k }}{% endfor %}", {"d": {"b": 1, "a": 2}}),
    ("loop_scoping", "{% set x = 1 %}{% for i in [1, 2] %}{% set x = x + i %}{{ x }}{% endfor %} {{ x }}", {}),
    ("namespace", "{% set ns = namespace(count=0, found=false) %}{% for i in [1, 2, 3] %}{% set ns.count = ns.count + i %}{% endfor %}{{ ns.count }} {{ ns.found }}", {}),
    ("break_continue", "{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}", {}),
    ("set_tuple_and_block", "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set block %}  In a block {{ a }}  {% endset %}[{{ block }}]{% set up | upper %}shout{% endset %}{{ up }}", {}),
    ("macro_and_defaults", "{% macro greet(name, greeting='Hello') %}{{ greeting }}, {{ name }}!{% endmacro %}{{ greet('Ann') }} {{ greet('Bob', greeting='Hi') }}", {}),
    ("call_block", "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}bold{% endcall %}", {}),
    ("filter_block", "{% filter upper %}quiet {{ 'words' }}{% endfilter %}", {}),
    ("generation_block", "{% generation %}assistant text{% endgeneration %}", {}),
    ("raise_inside_false_branch", "{% if false %}{{ raise_exception('never') }}{% endif %}ok", {}),
    ("filters_text", "{{ '  x  '|trim }}|{{ 'ab'|upper }}|{{ 'AB'|lower }}|{{ 'hello world-wide'|title }}|{{ 'hELLO'|capitalize }}|{{ 'aXbX'|replace('X', '-') }}|{{ 'one two  three'|wordcount }}|{{ 42|string }}|{{ 'x'|safe }}", {}),
    ("filters_lists", "{{ [3, 1, 2]|sort }} {{ ['b', 'A', 'c']|sort }} {{ [1, 2]|reverse|list }} {{ [1, 1, 2]|unique|list }} {{ [1, 2, 3]|first }} {{ [1, 2, 3]|last }} {{ [1, 2]|length }} {{ 'abc'|count }} {{ [1, 2]|join(', ') }} {{ 'ab'|list }} {{ [1, 2, 3]|sum }} {{ [4, 2, 8]|max }} {{ [4, 2, 8]|min }}", {}),
    ("filters_select_map", "{{ users|selectattr('active')|map(attribute='name')|join(',') }} {{ users|rejectattr('active')|map(attribute='name')|list }} {{ users|selectattr('role', 'equalto', 'admin')|list|length }} {{ [1, 2, 3, 4]|select('even')|list }} {{ [1, 2, 3]|reject('odd')|list }} {{ ['a', 'b']|map('upper')|list }} {{ users|sort(attribute='name', reverse=true)|map(attribute='name')|join }}", {"users": [{"name": "ann", "active": True, "role": "admin"}, {"name": "bob", "active": False, "role": "user"}, {"name": "cy", "active": True, "role": "user"}]}),
    ("filters_numbers", "{{ '42'|int }} {{ '4.7'|int }} {{ 'x'|int }} {{ 'x'|int(7) }} {{ '2.5'|float }} {{ 3|float }} {{ -3|abs }} {{ 2.567|round(2) }} {{ 2.5|round }}", {}),
    ("filter_default", "{{ missing|default('d') }} {{ ''|default('e') }} {{ ''|default('f', true) }} {{ none|default('g') }} {{ missing|d('h') }}", {}),
    ("filter_indent", "[{{ 'a\\nb\\n\\nc'|indent(2) }}] [{{ 'a\\nb'|indent(4, true) }}] [{{ 'a\\n\\nb'|indent('> ', blank=true) }}]", {}),
    ("tojson", "{{ {'b': [1, 2.5, none, true], 'a': 'é \"q\" \\n'}|tojson }} {{ 'x'|tojson }} {{ [] |tojson }} {{ {'k': {'n': 1}}|tojson(indent=2) }}", {}),
    ("tojson_of_tool", "{{ tool|tojson }}", {"tool": WEATHER}),
    ("string_methods", "{{ '  a b  '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '  a'.lstrip() }}|{{ 'a  '.rstrip() }}|{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith(('x', 'c')) }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a-b-c'.split('-', 1) }}|{{ 'aaa'.replace('a', 'b', 2) }}|{{ 'Ab'.upper() }}{{ 'Ab'.lower() }}|{{ 'ab cd'.title() }}|{{ '{} and {}'.format(1, 'x') }}|{{ '{name}!'.format(name='N') }}", {}),
    ("dict_methods", "{{ d.keys()|list }} {{ d.values()|list }} {{ d.items()|list }} {{ d.get('a') }} {{ d.get('z') }}", {"d": {"a": 1, "b": 2}}),
    ("whitespace_control", "a  {{- ' b ' -}}  c\n  {%- if true %}  d{% endif -%}\n\n  e", {}),
    ("trim_and_lstrip_blocks", "<ul>\n    {% for x in [1, 2] %}\n    <li>{{ x }}</li>\n    {% endfor %}\n</ul>\n", {}),
    ("lstrip_disabled_with_plus", "x\n    {%+ if true %}y{% endif %}\n", {}),
    ("comments", "a{# a comment #}b\n  {# own line #}\nc{#- stripped -#}  d", {}),
    ("raw_block", "{% raw %}{{ not rendered }}{% endraw %}", {}),
    ("strftime_now", "{{ strftime_now('%Y-%m-%d %H:%M %b %B %a %A %d') }}", {}),
    ("dict_literal_order_and_access", "{% set d = {'z': 1, 'a': 2} %}{{ d }} {{ d['z'] }} {{ d|length }}", {}),
    ("list_concatenation", "{{ [1] + [2, 3] }} {{ 'ab' * 3 }} {{ '%s-%d' % ('x', 4) }}", {}),
    ("nested_loops_loop_var", "{% for a in [1, 2] %}{% for b in 'xy' %}{{ a }}{{ b }}{{ loop.index }}{% endfor %}{{ loop.index }};{% endfor %}", {}),
    ("messages_reverse_scan", "{% set ns = namespace(last=-1) %}{% for m in messages[::-1] %}{% if m.role == 'user' and ns.last == -1 %}{% set ns.last = messages|length - 1 - loop.index0 %}{% endif %}{% endfor %}{{ ns.last }}", {"messages": [{"role": "user"}, {"role": "assistant"}, {"role": "user"}, {"role": "assistant"}]}),
]

ERRORS = [
    ("raise_exception", "{{ raise_exception('Roles must alternate') }}", {}),
    ("undefined_attribute_of_undefined", "{{ missing.attr }}", {}),
    ("undefined_in_arithmetic", "{{ missing + 1 }}", {}),
    ("none_plus_string", "{{ none + 'x' }}", {}),
]

out = {"cases": [], "errors": []}
for name, source, variables in CASES:
    out["cases"].append({"name": name, "template": source, "variables": variables, "text": compile(source).render(**variables)})
for name, source, variables in ERRORS:
    try:
        compile(source).render(**variables)
        raise SystemExit(name + " did not fail")
    except Exception as ex:
        out["errors"].append({"name": name, "template": source, "variables": variables, "error": f"{type(ex).__name__}: {ex}"})
print(json.dumps(out, ensure_ascii=False, indent=1))
