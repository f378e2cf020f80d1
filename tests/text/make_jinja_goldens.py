"""Writes expected renderings for test_jinja_goldens.cpp, made with Python Jinja2 configured the way Hugging Face
transformers renders chat templates (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols,
tojson with ensure_ascii=False, raise_exception).

    python3 tests/text/make_jinja_goldens.py > tests/text/data/jinja-goldens.jsonl

Each line: {"name", "template" (or "template_name": deepseek-r1 = testdata/templates/deepseek-r1.jinja,
deepseek-v3 = the fixture model's tokenizer_config.json), "variables", "text"}, or "error": true where Jinja2
raises.
"""
import json
import pathlib
import sys

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = pathlib.Path(__file__).resolve().parents[2]


def make_environment():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(value, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                                extensions=[jinja2.ext.loopcontrols])
    environment.filters["tojson"] = tojson
    environment.globals["raise_exception"] = raise_exception
    return environment


BOS = "<｜begin▁of▁sentence｜>"
EOS = "<｜end▁of▁sentence｜>"

R1_CHATS = [
    [{"role": "user", "content": "What is 2+2?"}],
    [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "<think>\nThe user greets.\n</think>\n\nHello!"},
     {"role": "user", "content": "Bye"}],
    [{"role": "system", "content": "Be brief."}, {"role": "system", "content": "Use French."},
     {"role": "user", "content": "Weather?"},
     {"role": "assistant", "content": None, "tool_calls": [
         {"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
         {"type": "function", "function": {"name": "get_time", "arguments": "{}"}}]},
     {"role": "tool", "content": "18C"}, {"role": "tool", "content": "12:00"},
     {"role": "assistant", "content": "Il fait 18C."}, {"role": "user", "content": "Merci"}],
    [{"role": "user", "content": "Search it"},
     {"role": "assistant", "content": "Let me look.", "tool_calls": [
         {"type": "function", "function": {"name": "search", "arguments": "{\"q\": \"MLA\"}"}}]},
     {"role": "tool", "content": "found"}],
    [{"role": "user", "content": "a</think>b"}, {"role": "assistant", "content": "x</think>y</think>z"}],
]

EXPRESSION_CASES = [
    ("literals", "{{ 1 }}|{{ -2 }}|{{ 1.5 }}|{{ 1e16 }}|{{ 0.00001 }}|{{ 2.0 }}|{{ 'a' 'b' }}|{{ none }}|{{ true }}|{{ False }}", {}),
    ("containers", "{{ [1, 'a', none, true, 2.5] }}|{{ {'k': 'v', 'n': [1]} }}|{{ [] }}|{{ 2 in (1, 2) }}", {}),
    ("repr quotes", "{{ [\"it's\", 'say \"hi\"', 'both \\' \"', 'tab\\tnew\\nline', '\\x01'] }}", {}),
    ("arithmetic", "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ -7 % 3 }} {{ 7.5 % 2 }} {{ 1 + 2 * 3 - 4 }} {{ 2 ** 3 ** 2 }}", {}),
    ("string ops", "{{ 'ab' * 3 }}|{{ 3 * 'x' }}|{{ 'a' ~ 1 ~ none ~ true }}|{{ 'a' + 'b' }}|{{ [1] + [2] }}", {}),
    ("comparisons", "{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }} {{ 'a' < 'b' }} {{ 1 == 1.0 }} {{ [1,2] == [1,2] }} {{ 'a' != 'b' }} {{ none == none }} {{ 2 >= 2 }}", {}),
    ("in", "{{ 'b' in 'abc' }} {{ 2 in [1,2] }} {{ 'k' in d }} {{ 'z' not in d }} {{ 'x' in missing }}", {"d": {"k": 1}}),
    ("logic", "{{ 0 or 'x' }}|{{ 1 and 'y' }}|{{ none or [] }}|{{ not 0 }}|{{ not not 'a' }}|{{ 'a' if 0 else 'b' }}|{{ 'c' if 1 }}|{{ 'd' if 0 }}|", {}),
    ("tests", "{{ x is defined }} {{ y is defined }} {{ y is undefined }} {{ n is none }} {{ n is not none }} {{ 3 is odd }} {{ 4 is even }}"
              " {{ 6 is divisibleby 3 }} {{ 'a' is string }} {{ 1 is number }} {{ 1.5 is float }} {{ 1 is integer }} {{ d is mapping }}"
              " {{ l is iterable }} {{ l is sequence }} {{ true is boolean }} {{ n is sameas none }} {{ 2 is eq 2 }} {{ 'a' is in 'cat' }}"
              " {{ 'ab' is lower }} {{ 'AB' is upper }}", {"x": 1, "n": None, "d": {}, "l": [1]}),
    ("filters", "{{ [1,2,3]|length }} {{ 'héllo'|length }} {{ '  a b  '|trim }} {{ 'x-'|trim('-') }} {{ 'ab'|upper }} {{ 'AB'|lower }}"
                " {{ 'hello world'|title }} {{ 'hELLO'|capitalize }} {{ 'aXbX'|replace('X', '-') }} {{ missing|default('dflt') }}"
                " {{ ''|default('e', true) }} {{ [1,2]|join(', ') }} {{ [1,2]|first }} {{ [1,2]|last }} {{ 'abc'|list }}"
                " {{ 'abc'|reverse }} {{ [1,2]|reverse|list }} {{ '42'|int }} {{ 'x'|int(7) }} {{ '1.5'|float }} {{ -3|abs }}"
                " {{ 5|string ~ 'x' }} {{ [1,1,2]|unique|list }} {{ 'ab'|count }}", {}),
    ("tojson", "{{ d|tojson }}|{{ d|tojson(indent=2) }}|{{ [1, 2.0, 'é\"\\n', none, true]|tojson }}|{{ {}|tojson }}|{{ []|tojson(indent=2) }}",
     {"d": {"name": "get_weather", "parameters": {"city": {"type": "string"}, "days": [1, 2]}}}),
    ("select map", "{{ l|selectattr('on')|map(attribute='n')|join(',') }}|{{ l|rejectattr('on')|map(attribute='n')|list }}"
                   "|{{ [1,2,3,4]|select('odd')|list }}|{{ [1,2,3,4]|reject('even')|list }}|{{ ['a','b']|map('upper')|join }}"
                   "|{{ l|selectattr('n', 'equalto', 2)|list|length }}",
     {"l": [{"n": 1, "on": True}, {"n": 2, "on": False}, {"n": 3, "on": True}]}),
    ("items", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}|{% for k in d %}{{ k }}{% endfor %}|{{ d.keys()|list }}|{{ d.values()|list }}"
              "|{{ d.get('a') }}|{{ d.get('z', 9) }}|{{ d.get('z') }}|{% for k, v in d|items %}{{ k }}{{ v }}{% endfor %}",
     {"d": {"b": 2, "a": 1}}),
    ("string methods", "{{ '  x y  '.strip() }}|{{ 'xxyxx'.strip('x') }}|{{ ' a'.lstrip() }}|{{ 'a '.rstrip() }}|{{ 'a,b,,c'.split(',') }}"
                       "|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith(('x', 'c')) }}"
                       "|{{ 'aXa'.replace('a', 'b') }}|{{ 'abc'.upper() }}|{{ 'ABC'.lower() }}|{{ 'a-b'.title() }}|{{ 'abc'.find('c') }}"
                       "|{{ '-'.join(['a', 'b']) }}|{{ 'a</think>b'.split('</think>')[-1] }}|{{ 'aaa'.count('a') }}|{{ 'ab'.replace('', '.') }}", {}),
    ("subscripts", "{{ l[0] }}{{ l[-1] }}{{ l[5] }}|{{ l[1:] }}{{ l[:-1] }}{{ l[::-1] }}{{ l[::2] }}|{{ 'héllo'[1] }}{{ 'héllo'[1:3] }}"
                   "{{ 'abc'[::-1] }}|{{ d['k'] }}{{ d.k }}{{ d['missing'] }}|{{ l.0 }}", {"l": [1, 2, 3, 4], "d": {"k": "v"}}),
    ("loops", "{% for x in l %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}"
              "{% if not loop.first %}{{ loop.previtem }}{% endif %}{% if not loop.last %}{{ loop.nextitem }}{% endif %};{% endfor %}"
              "|{% for x in [] %}a{% else %}empty{% endfor %}|{% for x in l if x > 1 %}{{ x }}{{ loop.index }}{% endfor %}"
              "|{% for x in l %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 3 %}{% break %}{% endif %}{{ x }}{% endfor %}"
              "|{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %}|{% for c in 'ab' %}{{ c }}{% endfor %}"
              "|{% for i in range(3) %}{{ i }}{% endfor %}{% for i in range(1, 7, 2) %}{{ i }}{% endfor %}{% for i in range(3, 0, -1) %}{{ i }}{% endfor %}",
     {"l": [1, 2, 3]}),
    ("scoping", "{% set x = 1 %}{% for i in [1, 2] %}{% if i == 2 %}{{ x }}{% endif %}{% set x = i * 10 %}{{ x }}{% endfor %}|{{ x }}"
                "|{% set ns = namespace(total=0) %}{% for i in [1, 2, 3] %}{% set ns.total = ns.total + i %}{% endfor %}{{ ns.total }}"
                "|{% if true %}{% set y = 5 %}{% endif %}{{ y }}|{% set block %}in {{ x }}{% endset %}{{ block }}"
                "|{% set n2 = namespace({'a': 1}, b=2) %}{{ n2.a }}{{ n2.b }}", {}),
    ("whitespace", "  {% if true %}\n  line\n  {% endif %}\nend {{- ' trimmed' -}}   \n  x {%- if true -%}  y  {%- endif -%}  z"
                   "\n{# comment #}\nafter{%+ if true %} plus{% endif +%}\nkeep {{ 'v' }}\n  {{ 'o' }}\n", {}),
    ("whitespace loop", "{% for m in ms %}\n  {% if m %}\n    <{{ m }}>\n  {% endif %}\n{% endfor %}\n", {"ms": ["a", "", "b"]}),
    ("unicode", "{{ s }}|{{ s|length }}|{{ s[0] }}|{{ s|upper }}|{{ s|reverse }}", {"s": "éa中😀"}),
    ("dict and list values", "{{ m['content'] is none }}|{{ m.tool_calls|length }}|{{ m.tool_calls[0].function.name }}"
                             "|{{ m.tool_calls[0]['function']['arguments'] }}",
     {"m": {"role": "assistant", "content": None, "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{\"a\": 1}"}}]}}),
    ("escapes", "{{ '\\u00e9\\x41\\101\\t|' }}{{ \"q\\\"q\" }}{{ 'back\\\\slash' }}{{ '\\d' }}", {}),
    ("floats", "{{ 0.1 + 0.2 }} {{ 1/3 }} {{ 1e22 }} {{ 123456789012345678.0 }} {{ 1.5e-7 }} {{ -0.0 }} {{ 100.0 }} {{ 3 * 1.1 }}", {}),
    ("error undefined concat", "{{ 'a' + missing }}", {}),
    ("error undefined attribute", "{{ missing.attr }}", {}),
    ("error none attribute concat", "{{ n.x + 'a' }}", {"n": None}),
    ("error str plus int", "{{ 'a' + 1 }}", {}),
    ("error raise_exception", "{{ raise_exception('bad roles') }}", {}),
    ("error not iterable", "{% for x in 5 %}{% endfor %}", {}),
    ("error range too big", "{% for x in range(200000) %}{% endfor %}", {}),
    ("error division by zero", "{{ 1 // 0 }}", {}),
    ("error set attribute of dict", "{% set d.x = 1 %}", {"d": {}}),
    ("error call non-callable", "{{ d() }}", {"d": {}}),
    ("error unpack", "{% for a, b in [1, 2] %}{% endfor %}", {}),
]


def render(environment, name, template_text, variables, template_name=None):
    """A golden row; a named template (deepseek-r1, deepseek-v3) is stored by name, not repeated in every row."""
    row = {"name": name, "variables": variables}
    if template_name:
        row["template_name"] = template_name
    else:
        row["template"] = template_text
    try:
        row["text"] = environment.from_string(template_text).render(**variables)
    except Exception:  # the C++ renderer must fail too; messages differ
        row["error"] = True
    return row


def fixture_chats():
    """The message lists of the HF-made chat-template fixture, each once."""
    chats = []
    for line in (ROOT / "testdata" / "fixtures" / "chat-template.jsonl").read_text(encoding="utf-8").splitlines():
        messages = json.loads(line)["messages"]
        if messages not in chats:
            chats.append(messages)
    return chats


def main():
    environment = make_environment()
    rows = []
    r1_template = (ROOT / "testdata" / "templates" / "deepseek-r1.jinja").read_text(encoding="utf-8")
    v3_config = json.loads((ROOT / "testdata" / "fixtures" / "dsv3-tiny-fullvocab" / "tokenizer_config.json").read_text())
    for template_name, template_text in [("deepseek-r1", r1_template), ("deepseek-v3", v3_config["chat_template"])]:
        for index, messages in enumerate(fixture_chats() + R1_CHATS):
            if template_name == "deepseek-v3" and index >= len(fixture_chats()):
                if any("tool_calls" in m and m.get("content") is not None for m in messages):
                    continue  # the V3 template needs content None alongside tool_calls
            for add_generation_prompt in (True, False):
                variables = {"messages": messages, "add_generation_prompt": add_generation_prompt, "tools": None,
                             "bos_token": BOS, "eos_token": EOS}
                rows.append(render(environment, f"{template_name} chat {index} gen={add_generation_prompt}",
                                   template_text, variables, template_name))
    for name, template_text, variables in EXPRESSION_CASES:
        rows.append(render(environment, name, template_text, variables))
    for row in rows:
        sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
