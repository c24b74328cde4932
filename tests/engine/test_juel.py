"""JUEL → Python (app/engine/juel.py): the exact translation of Camunda / Flowable / Activiti
expressions, or a zh_CN reason why there is none; precedence checked by evaluating the Python over
hand-written truth tables; never raises, bounded work."""
from __future__ import annotations

import ast
import itertools
import random
import time

import pytest

from app.engine.juel import INTERNAL_ERROR, MAX_LENGTH, Translation, is_juel, translate


def py(text: str) -> str:
    t = translate(text)
    assert t.juel and t.problem is None, t
    assert t.python is not None
    ast.parse(t.python, mode="eval")
    return t.python


def refused(text: str) -> str:
    t = translate(text)
    assert t.juel and t.python is None, t
    assert isinstance(t.problem, str) and t.problem
    assert "(" in t.problem and ")" in t.problem  # zh_CN with the English in parentheses
    return t.problem


def run(text: str, **data):
    return eval(py(text), {"__builtins__": {"str": str}}, data)  # noqa: S307 (test of a translation)


# ------------------------------------------------------------------------------------ detection
@pytest.mark.parametrize("text", [None, "", "candidate", "dept_window", "price $5", "a # b", "{x}", "$ {x}", "PT5M"])
def test_text_without_juel_is_not_juel(text):
    assert is_juel(text) is False
    t = translate(text)
    assert t == Translation("" if text is None else text, False, None, None)


@pytest.mark.parametrize("text", ["${x}", "#{x}", "abc ${x}", "  ${ x }\n", "${", "x #{y} z"])
def test_text_with_juel_is_juel(text):
    assert is_juel(text) is True
    assert translate(text).juel is True


# ------------------------------------------------------------------------------------ literals and names
@pytest.mark.parametrize("text, expected", [
    ("${'approve'}", "'approve'"),
    ('${"approve"}', "'approve'"),
    ("${'it\\'s'}", '"it\'s"'),
    ('${"say \\"hi\\""}', "'say \"hi\"'"),
    ("${'back\\\\slash'}", "'back\\\\slash'"),
    ("${\"it's\"}", '"it\'s"'),
    ("${'a}b'}", "'a}b'"),
    ("${42}", "42"),
    ("${007}", "7"),
    ("${1.5}", "1.5"),
    ("${.5}", "0.5"),
    ("${1e3}", "1000.0"),
    ("${2.5E-1}", "0.25"),
    ("${true}", "True"),
    ("${false}", "False"),
    ("${null}", "None"),
    ("${amount}", "amount"),
    ("${金额}", "金额"),
    ("${initiator}", "applicant"),
    ("${applicant}", "applicant"),
    ("#{decision}", "decision"),
    ("  ${ decision }\n ", "decision"),
    ("${(x)}", "x"),
])
def test_literals_and_names(text, expected):
    assert py(text) == expected


def test_string_literal_values_are_exact():
    assert run("${'it\\'s'}") == "it's"
    assert run('${"a\\\\b"}') == "a\\b"
    assert run("${'\u4e2d\u6587 \x00 }'}") == "\u4e2d\u6587 \x00 }"


# ------------------------------------------------------------------------------------ operators
@pytest.mark.parametrize("text, expected", [
    ("${a == b}", "a == b"), ("${a eq b}", "a == b"),
    ("${a != b}", "a != b"), ("${a ne b}", "a != b"),
    ("${a < b}", "a < b"), ("${a lt b}", "a < b"),
    ("${a > b}", "a > b"), ("${a gt b}", "a > b"),
    ("${a <= b}", "a <= b"), ("${a le b}", "a <= b"),
    ("${a >= b}", "a >= b"), ("${a ge b}", "a >= b"),
    ("${a && b}", "a and b"), ("${a and b}", "a and b"),
    ("${a || b}", "a or b"), ("${a or b}", "a or b"),
    ("${!a}", "not a"), ("${not a}", "not a"),
    ("${a + b}", "a + b"), ("${a - b}", "a - b"), ("${a * b}", "a * b"),
    ("${a / b}", "a / b"), ("${a div b}", "a / b"),
    ("${a % b}", "a % b"), ("${a mod b}", "a % b"),
    ("${-a}", "-a"), ("${-5}", "-5"),
    ("${x == null}", "x == None"),
    ("${c ? a : b}", "(a if c else b)"),
    ("${empty x}", "(x in (None, '', [], {}))"),
    ("${a['k']}", "a['k']"), ("${a[0]}", "a[0]"), ("${a.b}", "a['b']"), ("${a.b.c}", "a['b']['c']"),
    ("${a[i]}", "a[i]"), ("${a.class}", "a['class']"),
    ("${execution.getVariable('x')}", "x"), ('${execution.getVariable("x")}', "x"),
    ("${execution.getVariable('initiator')}", "applicant"),
    ("${execution.getVariable('m').k > 1}", "m['k'] > 1"),
])
def test_each_operator(text, expected):
    assert py(text) == expected


@pytest.mark.parametrize("text, data, expected", [
    ("${a div b}", {"a": 7, "b": 2}, 3.5),
    ("${a / b}", {"a": 8, "b": 2}, 4.0),
    ("${a mod b}", {"a": 7, "b": 3}, 1),
    ("${a + b * c}", {"a": 1, "b": 2, "c": 3}, 7),
    ("${(a + b) * c}", {"a": 1, "b": 2, "c": 3}, 9),
    ("${a - b - c}", {"a": 10, "b": 3, "c": 2}, 5),
    ("${a - (b - c)}", {"a": 10, "b": 3, "c": 2}, 9),
    ("${a / b * c}", {"a": 8, "b": 4, "c": 2}, 4.0),
    ("${-a * b}", {"a": 2, "b": 3}, -6),
    ("${a - -b}", {"a": 2, "b": 3}, 5),
    ("${c ? 'x' : 'y'}", {"c": True}, "x"),
    ("${c ? 'x' : 'y'}", {"c": False}, "y"),
    ("${c ? 'x' : d ? 'y' : 'z'}", {"c": False, "d": False}, "z"),
    ("${c ? 'x' : d ? 'y' : 'z'}", {"c": False, "d": True}, "y"),
    ("${m.k}", {"m": {"k": "v"}}, "v"),
    ("${m['k'][1]}", {"m": {"k": [5, 6]}}, 6),
    ("${decision eq 'approve'}", {"decision": "approve"}, True),
    ("${amount gt 1000 and level ne 'county'}", {"amount": 2000, "level": "city"}, True),
    ("${amount gt 1000 and level ne 'county'}", {"amount": 2000, "level": "county"}, False),
    ("${initiator}", {"applicant": "zhangsan"}, "zhangsan"),
    ("${nrOfCompletedInstances / nrOfInstances >= 0.5}", {"nrOfCompletedInstances": 1, "nrOfInstances": 2}, True),
])
def test_translations_evaluate_like_juel(text, data, expected):
    result = run(text, **data)
    assert result == expected and type(result) is type(expected)


# ------------------------------------------------------------------------------------ precedence
BOOLS = list(itertools.product([False, True], repeat=3))


@pytest.mark.parametrize("text, table", [
    # rows: (a, b, c) in BOOLS order FFF FFT FTF FTT TFF TFT TTF TTT, written out by hand
    ("${a || b && c}", [False, False, False, True, True, True, True, True]),
    ("${a or b and c}", [False, False, False, True, True, True, True, True]),
    ("${a && b || c}", [False, True, False, True, False, True, True, True]),
    ("${(a || b) && c}", [False, False, False, True, False, True, False, True]),
    ("${!a && b}", [False, False, True, True, False, False, False, False]),
    ("${!(a && b)}", [True, True, True, True, True, True, False, False]),
    ("${a == b && c}", [False, True, False, False, False, False, False, True]),
    ("${a == b == c}", [False, True, True, False, True, False, False, True]),
    ("${!a == b}", [False, False, True, True, True, True, False, False]),
    ("${a ? b : c}", [False, True, False, True, False, False, True, True]),
    ("${a || b ? c : !c}", [True, False, False, True, False, True, False, True]),
    ("${a != b != c}", [False, True, True, False, True, False, False, True]),
    ("${not a or not b and c}", [True, True, True, True, False, True, False, False]),
])
def test_boolean_precedence_truth_tables(text, table):
    for (a, b, c), expected in zip(BOOLS, table):
        assert bool(run(text, a=a, b=b, c=c)) is expected, (text, a, b, c)


@pytest.mark.parametrize("text, expected", [
    ("${!a == b}", "(not a) == b"),
    ("${a == b == c}", "(a == b) == c"),
    ("${a < b == c < d}", "(a < b) == (c < d)"),
    ("${a || b && c}", "a or (b and c)"),
    ("${(a || b) && c}", "(a or b) and c"),
    ("${a - (b - c)}", "a - (b - c)"),
    ("${-(a + b)}", "-(a + b)"),
    ("${!(a && b)}", "not (a and b)"),
    ("${a ? b || c : d}", "((b or c) if a else d)"),
    ("${(a ? b : c) == d}", "(b if a else c) == d"),
])
def test_parentheses_keep_juel_precedence(text, expected):
    assert py(text) == expected


@pytest.mark.parametrize("text, data, expected", [
    ("${a < b == c < d}", {"a": 1, "b": 2, "c": 3, "d": 4}, True),   # (a<b) == (c<d), not a chain
    ("${a < b == c < d}", {"a": 1, "b": 2, "c": 4, "d": 3}, False),
    ("${a == b == c}", {"a": 1, "b": 1, "c": True}, True),           # (1 == 1) == true
    ("${a + 1 > b * 2 && c}", {"a": 4, "b": 2, "c": True}, True),
    ("${a + 1 > b * 2 && c}", {"a": 3, "b": 2, "c": True}, False),
    ("${empty x == false}", {"x": "v"}, True),
    ("${empty x == false}", {"x": ""}, False),
    ("${!empty x}", {"x": [1]}, True),
    ("${not empty m.k}", {"m": {"k": None}}, False),
    ("${-a == -1}", {"a": 1}, True),
])
def test_mixed_precedence(text, data, expected):
    assert run(text, **data) is expected


# ------------------------------------------------------------------------------------ empty
@pytest.mark.parametrize("value, expected", [
    (None, True), ("", True), ([], True), ({}, True),
    (0, False), (0.0, False), (False, False), ("a", False), (" ", False), ("false", False),
    ([None], False), ([0], False), ({"k": None}, False), (True, False), (1, False),
])
def test_empty_is_exact(value, expected):
    assert run("${empty x}", x=value) is expected
    assert run("${not empty x}", x=value) is (not expected)


# ------------------------------------------------------------------------------------ mixed text
@pytest.mark.parametrize("text, expected", [
    ("abc ${x}", "'abc ' + str(x)"),
    ("dept_${region}", "'dept_' + str(region)"),
    ("${a}-${b}", "str(a) + '-' + str(b)"),
    ("${a}${b}", "str(a) + str(b)"),
    ("g_${a}_${b}_end", "'g_' + str(a) + '_' + str(b) + '_end'"),
    ("x ${'y'} ${7} ${true}${null}", "'x y 7 true'"),
    ("n=${-3}", "'n=-3'"),
    ("ok_${a > 1}", "'ok_' + ('true' if a > 1 else 'false')"),
    ("u_${initiator}", "'u_' + str(applicant)"),
    ("#{a},#{b}", "str(a) + ',' + str(b)"),
])
def test_mixed_text_concatenates(text, expected):
    assert py(text) == expected


def test_mixed_text_values():
    assert run("dept_${region}_${level}", region="jiangsu", level=3) == "dept_jiangsu_3"
    assert run("ok_${a > 1}", a=2) == "ok_true"
    assert run("${a}${b}", a=1, b=2) == "12"


# ------------------------------------------------------------------------------------ refusals
@pytest.mark.parametrize("text, words", [
    ("${myBean.check()}", ["无法翻译的调用 myBean.check()", "method call"]),
    ("${myBean.check(x, 1)}", ["myBean.check()"]),
    ("${fn:upper(x)}", ["fn:upper()", "function call"]),
    ("${dateTime()}", ["dateTime()"]),
    ("${currentUser()}", ["currentUser()"]),
    ("${execution.setVariable('x', 1)}", ["execution.setVariable", "getVariable"]),
    ("${execution.processInstanceId}", ["execution.processInstanceId"]),
    ("${execution.getVariable(name)}", ["execution.getVariable"]),
    ("${execution.getVariableLocal('x')}", ["execution.getVariableLocal"]),
    ("${execution}", ["execution"]),
    ("${task.assignee}", ["task", "Camunda"]),
    ("${task}", ["task"]),
    ("${authenticatedUserId}", ["authenticatedUserId"]),
    ("${x -> x + 1}", ["lambda"]),
    ("${s += 'x'}", ["+="]),
    ("${a = 1}", ["="]),
    ("${a; b}", ["分号", "semicolon"]),
    ("${{1, 2}}", ["集合", "set or map"]),
    ("${a instanceof b}", ["instanceof"]),
    ("${'a' + b}", ["'a'", "+"]),
    ("${a + 'b'}", ["'b'"]),
    ("${a + true}", ["true"]),
    ("${a + null}", ["null"]),
    ("${(a > 1) * 2}", ["a > 1"]),
    ("${-'5'}", ["'5'"]),
    ("${a < null}", ["null"]),
    ("${a >= true}", ["true"]),
    ("${a[-1]}", ["-1"]),
    ("${a[1.5]}", ["1.5"]),
    ("${a[null]}", ["null"]),
    ("${'abc'.length}", ["'abc'"]),
    ("${'abc'[0]}", ["'abc'"]),
    ("${class}", ["class", "Python"]),
    ("${None}", ["None"]),
    ("${_secret}", ["_secret"]),
    ("${len}", ["len", "sandbox"]),
    ("${str}", ["str"]),
    ("${a$b}", ["a$b"]),
    ("${\ufb01le}", ["\ufb01le"]),
    ("${'a\\nb'}", ["\\n"]),
    ("${\"it\\'s\"}", ["\\'"]),
    ("x\\${y}", ["反斜杠", "backslash"]),
    ("${1e999}", ["1e999"]),
    ("${9223372036854775808}", ["Long"]),
    ("price ${1.5}", ["1.5"]),
    ("${(a)(b)}", ["(a)"]),
])
def test_refusals_name_what(text, words):
    problem = refused(text)
    for word in words:
        assert word in problem, (text, problem)


def test_largest_long_is_translated():
    assert py("${9223372036854775807}") == "9223372036854775807"


@pytest.mark.parametrize("text", [
    "${a ==}", "${}", "${ }", "${'abc}", '${"abc}', "${(a}", "${a)}", "${a[}", "${a[0}", "${a]}",
    "${a ? b}", "${a ? b :}", "${a.}", "${.}", "${a b}", "${&& a}", "${a & b}", "${a | b}", "${a ~ b}",
    "${a", "abc ${x", "${a}#{b}", "${a.empty}", "${a.and}", "${a.5}", "${1e}", "${!}", "${-}", "${empty}",
    "${a @ b}", "${a ? : b}",
])
def test_malformed_juel(text):
    assert refused(text).startswith("JUEL 表达式不完整")


# ------------------------------------------------------------------------------------ robustness
def test_never_raises_on_random_strings():
    rng = random.Random(20240531)
    alphabet = list("${}#'\"\\ abcxyz019._[]()!&|=<>+-*/%?:;,\n\t") + [
        "eq ", " and ", " not ", "empty ", "null", "true", "execution.getVariable(", "initiator",
        "\x00", "\ud800", "\u4e2d", "\ufb01", "\u3000", "\u00a0", "1e", ".5", "div", "mod", "->", "+="]
    seen_python = 0
    for n in range(200):
        body = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        text = body if n % 2 else "${" + body + "}"
        t = translate(text)
        assert isinstance(t, Translation) and t.source == text
        assert t.juel is is_juel(text)
        if t.python is not None:
            ast.parse(t.python, mode="eval")
            assert t.problem is None
        elif t.juel:
            assert t.problem and not t.problem.startswith(INTERNAL_ERROR), (text, t.problem)
        else:
            assert t.problem is None
        seen_python += t.python is not None
    assert seen_python > 0


@pytest.mark.parametrize("text", [
    "${" + "(" * 1500 + "a" + ")" * 1500 + "}",
    "${" + "!" * 3000 + "a}",
    "${" + "- " * 1500 + "a}",
    "${" + " + ".join(["a"] * 900) + "}",
    "${" + " || ".join(["a"] * 700) + "}",
    "${" + "a ? " * 450 + "b" + " : c" * 450 + "}",
    "${" + "a" + "[0]" * 1200 + "}",
    "${" + "a" + ".b" * 1500 + "}",
])
def test_deep_nesting_is_refused_quickly(text):
    assert len(text) <= MAX_LENGTH
    began = time.perf_counter()
    problem = refused(text)
    assert time.perf_counter() - began < 1
    assert "嵌套" in problem and "nested" in problem


def test_long_input_is_refused_quickly():
    began = time.perf_counter()
    big = "${" + "a + " * 25_000 + "a}"
    assert "4000" in refused(big)
    assert translate("x" * 100_000) == Translation("x" * 100_000, False, None, None)
    assert translate("x" * (MAX_LENGTH - 5) + "${a}").python == "'" + "x" * (MAX_LENGTH - 5) + "' + str(a)"
    assert time.perf_counter() - began < 1


def test_odd_inputs_do_not_raise():
    assert translate(b"${a == 1}").python == "a == 1"
    assert translate(bytearray(b"\xff\xfe${a}")).juel is True
    assert translate(b"plain") == Translation("plain", False, None, None)
    odd = translate(12)
    assert odd.juel is False and odd.python is None and odd.problem
    assert translate("${'\ud800'}").python == "'\\ud800'"
    assert translate("${a\ud800}").problem.startswith("JUEL 表达式不完整")
