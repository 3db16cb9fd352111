#!/usr/bin/python3
"""Renders every template in templates.json over the conversations below with Python's jinja2 configured exactly as
transformers' chat_template_utils does (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols,
its tojson, raise_exception and strftime_now), and writes oracle.json: the expected text, or the error, per case.
Requires Debian's python3-jinja2: /usr/bin/python3 tools/template-oracle/oracle.py"""
import json, os
from datetime import datetime
import jinja2
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

root = os.path.dirname(os.path.abspath(__file__))
repo = os.path.dirname(os.path.dirname(root))
data = os.path.join(repo, "tests/OnnxGpt.Tests/Templates/Jinja/data")
FIXED_NOW = datetime(2026, 7, 26, 9, 5, 0)  # the tests pass the same clock

class AssistantTracker(Extension):
    # transformers' extension: {% generation %}...{% endgeneration %} renders its body.
    tags = {"generation"}
    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)
    def _render(self, caller):
        return caller()

def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)

def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

def strftime_now(format):
    return FIXED_NOW.strftime(format)

def compile(source):
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env.from_string(source)

WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Get the current weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "The city, e.g. Paris"},
    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]}}}
TIME = {"type": "function", "function": {"name": "get_time", "description": "The time now.", "parameters": {"type": "object", "properties": {}}}}
CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Zürich", "unit": "celsius"}}}

CONVERSATIONS = [
    ("single", [{"role": "user", "content": "What is the capital of France?"}], None, {}),
    ("system_multi", [{"role": "system", "content": "You are a terse assistant."}, {"role": "user", "content": "Hi there"},
        {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Name a colour."}], None, {}),
    ("no_generation_prompt", [{"role": "user", "content": "Ping"}, {"role": "assistant", "content": "Pong"}], None, {"add_generation_prompt": False}),
    ("whitespace_quotes", [{"role": "user", "content": "  Say \"hi\" & 'bye'\n\tplease  "}], None, {}),
    ("tools", [{"role": "system", "content": "Use tools when needed."}, {"role": "user", "content": "Weather in Zürich?"}], [WEATHER, TIME], {}),
    ("tools_no_system", [{"role": "user", "content": "What time is it?"}], [TIME], {}),
    ("tool_call_and_result", [{"role": "user", "content": "Weather in Zürich?"},
        {"role": "assistant", "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "{\"temperature\": 21.5, \"sky\": \"clear\"}"},
        {"role": "assistant", "content": "It is 21.5 °C and clear."}, {"role": "user", "content": "Thanks!"}], [WEATHER], {}),
    ("tool_call_pending", [{"role": "user", "content": "Weather in Zürich?"}, {"role": "assistant", "content": "", "tool_calls": [CALL]},
        {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "21.5"}], [WEATHER], {}),
    ("tool_call_nine_char_id", [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Zürich?"},
        {"role": "assistant", "content": "", "tool_calls": [dict(CALL, id="a1B2c3D4e")]},
        {"role": "tool", "tool_call_id": "a1B2c3D4e", "name": "get_weather", "content": "21.5"},
        {"role": "assistant", "content": "21.5 °C."}], [WEATHER], {"add_generation_prompt": False}),
    ("thinking_off", [{"role": "user", "content": "2+2?"}], None, {"enable_thinking": False}),
    ("reasoning", [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "<think>\nAdd.\n</think>\n\n4"},
        {"role": "user", "content": "3+3?"}], None, {}),
    ("long", [{"role": "system", "content": "S"}] + [m for i in range(6) for m in ({"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"})] + [{"role": "user", "content": "last"}], None, {}),
]

def main():
    with open(os.path.join(data, "templates.json")) as f:
        templates = json.load(f)["templates"]
    cases = []
    for t in templates:
        template = compile(t["template"])
        for name, messages, tools, extra in CONVERSATIONS:
            kwargs = {"add_generation_prompt": True, **extra}
            case = {"template": t["name"], "conversation": name, "messages": messages, "tools": tools, "variables": kwargs}
            try:
                case["text"] = template.render(messages=messages, tools=tools, documents=None, **{**t["special_tokens"], **kwargs})
            except Exception as ex:  # recorded: our engine must fail too
                case["error"] = f"{type(ex).__name__}: {ex}"
            cases.append(case)
    with open(os.path.join(data, "oracle.json"), "w") as f:
        json.dump({"jinja2": jinja2.__version__, "now": FIXED_NOW.isoformat(), "cases": cases}, f, ensure_ascii=False, indent=1)
    print(len(cases), "cases,", sum("error" in c for c in cases), "errors")

main()
