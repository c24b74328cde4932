"""Memory limits of the sandbox: the time limit cannot stop one C-level call, so every way a script
could make one huge allocation is refused *before* the allocation, with a ScriptError of kind
"limit" and the task data untouched; ordinary formatting, joining and padding keep working.

The sizes below (50 million characters, a few times the 10 million limit) are small enough that a
sandbox without these guards would just build them (and the test would fail on "not refused"),
rather than exhaust the test machine's memory."""
import time

import pytest

from app.engine.sandbox import MAX_TEXT, SandboxEnvironment, ScriptError

BIG = 50_000_000
assert BIG > MAX_TEXT

HUGE = {
    "format() width": f"x = format(0, '>{BIG}')",
    "% width": f"x = '%0{BIG}d' % 1",
    "% precision": f"x = '%.{BIG}f' % 1.0",
    "% * width": f"x = '%*d' % ({BIG}, 1)",
    "% of a big nested list": "x = '%s' % ([['a' * 1000] * 1000] * 100,)",
    "% d of a huge Decimal": "x = '%d' % Decimal('1e5000')",
    "%= width": f"x = '%0{BIG}d'\nx %= 1",
    "ljust": f"x = 'a'.ljust({BIG})",
    "rjust": f"x = 'a'.rjust({BIG}, '-')",
    "center": f"x = 'a'.center({BIG})",
    "zfill": f"x = '1'.zfill({BIG})",
    "bytes ljust": f"x = 'a'.encode().ljust({BIG})",
    "expandtabs": f"x = '\\t'.expandtabs({BIG})",
    "replace": "x = 'a' * 10000\ny = x.replace('a', x)",
    "replace of empty": "x = 'a' * 10000\ny = x.replace('', x)",
    "join of a generator": "x = 'a' * 10000\ny = ''.join(x for i in range(10000))",
    "join with a long separator": "x = 'a' * 10000\ny = x.join(['b'] * 10000)",
    "translate": "y = 'x' * 10000\nx = ('a' * 10000).translate({97: y})",
    "x = x + x": "x = 'a' * 1000000\nfor i in range(6):\n    x = x + x",
    "x += x": "x = 'a' * 1000000\nfor i in range(6):\n    x += x",
    "list + list": "x = [0] * 600000\ny = x + x",
    "f-string width": f"x = f'{{0:>{BIG}}}'",
    "f-string nested width": f"w = {BIG}\nx = f'{{0:>{{w}}}}'",
    "f-string precision": f"x = f'{{1.0:.{BIG}f}}'",
    "f-string of a huge Decimal": f"x = f'{{Decimal(\"1e{BIG}\"):f}}'",
    "f-string total": "x = 'a' * 900000\ny = f'{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}{x}'",
    "f-string of a big list": "x = f'{[[\"a\" * 1000] * 1000] * 100}'",
    "f-string !r": "x = f'{[[\"a\" * 1000] * 1000] * 100!r}'",
    "format of a huge Decimal": f"x = format(Decimal('1e{BIG}'), 'f')",
    "str of a big nested list": "x = str([['a' * 1000] * 1000] * 100)",
    "repr of a big nested list": "x = repr([['a' * 1000] * 1000] * 100)",
    "int of a huge Decimal": "x = int(Decimal('1e5000'))",
    "round of a huge Decimal": "x = round(Decimal('1e5000'))",
    "int.to_bytes": f"x = (1).to_bytes({BIG}, 'big')",
    "sum of lists": "x = [[0] * 1000000] * 20\ny = sum(x, [])",
    "print": "x = 'a' * 900000\nfor i in range(12):\n    print(x)",
    "long strftime format": "x = date(2026, 1, 1).strftime('%Y' * 2000)",
    "many medium strings (memory backstop)": "x = 'a' * 1000000\nys = [x + str(i) for i in range(1500)]",
}


BACKSTOP = HUGE["many medium strings (memory backstop)"]


@pytest.fixture
def env():
    return SandboxEnvironment(time_limit_ms=3000)


@pytest.mark.parametrize("source", list(HUGE.values()), ids=list(HUGE))
def test_huge_allocations_are_refused_before_they_happen(env, source):
    ctx = {"keep": 1}
    started = time.perf_counter()
    with pytest.raises(ScriptError) as err:
        env.execute(source, ctx)
    assert err.value.kind == "limit", str(err.value)   # not "timeout": the 3 s time limit did not stop it
    assert ctx == {"keep": 1}
    if source == BACKSTOP:
        # grows memory until the tracer's sample sees it: as long as the machine takes to touch 512 MB
        assert "memory limit exceeded" in str(err.value)
    else:
        assert time.perf_counter() - started < 2.5   # refused before the allocation: no time spent on it


@pytest.mark.parametrize("source", ["format(0, '>50000000')", "f'{0:>50000000}'", "'a'.ljust(50000000)",
                                    "'%050000000d' % 1", "text + text"])
def test_expressions_are_guarded_too(env, source):
    with pytest.raises(ScriptError) as err:
        env.evaluate(source, {"text": "a" * 6_000_000})
    assert err.value.kind == "limit"


def test_ordinary_formatting_padding_and_joining_still_work(env):
    ctx = {"items": ["a", "b"], "amount": Decimal_("1234.5")}
    env.execute(
        "a = f\"{3:>5}|{1.5:.2f}|{'x'!r}|{date(2026, 3, 2):%Y-%m-%d}|{12345:,}|{amount:.2f}\"\n"
        "b = '%s-%05d' % ('a', 1) + '%(k)s!' % {'k': 'v'}\n"
        "c = ', '.join(str(i) for i in items)\n"
        "d = isinstance('x', str) and isinstance(3, int) and not isinstance(3, str)\n"
        "e = int('5') + int(2.7) + round(2.5) + sum([1, 2]) + int(Decimal('12.5'))\n"
        "f = sum([[1], [2]], [])\n"
        "g = 'x'.ljust(3) + 'y'.center(3) + '7'.zfill(3) + 'a\\tb'.expandtabs(2) + 'aa'.replace('a', 'bc')\n"
        "lst = [1]\nalias = lst\nlst += [2]\nh = alias\n"
        "print('hello', 5)\ni = printed\n"
        "j = str() + str(b'ab', 'ascii') + repr([1, 'a']) + format(3.14159, '.3f') + 'abc'.translate({97: 'zz'})\n"
        "n = 7\nn %= 4\n"
        "o = date(2026, 3, 2).strftime('%d/%m/%Y') + (255).to_bytes(2, 'big').hex()\n"
        "p = 'a' * 5000000 + 'b' * 5000000\nq = len(p)\ndel p\n",
        ctx)
    assert ctx["a"] == "    3|1.50|'x'|2026-03-02|12,345|1234.50"
    assert ctx["b"] == "a-00001v!" and ctx["c"] == "a, b" and ctx["d"] is True and ctx["e"] == 24
    assert ctx["f"] == [1, 2] and ctx["g"] == "x   y 007a bbcbc"
    assert ctx["h"] == [1, 2], "+= on a list still extends it in place"
    assert ctx["i"] == "hello 5\n" and ctx["j"] == "ab[1, 'a']3.142zzbc" and ctx["n"] == 3
    assert ctx["o"] == "02/03/202600ff" and ctx["q"] == MAX_TEXT


def test_str_and_int_are_still_types_for_isinstance(env):
    assert env.evaluate("[isinstance(v, str) for v in values]", {"values": ["a", 1, None]}) == [True, False, False]
    assert env.evaluate("[isinstance(v, int) for v in values]", {"values": ["a", 1, True]}) == [False, True, True]


def Decimal_(text):
    from decimal import Decimal
    return Decimal(text)


# --- loops: how many instances / iterations one activity may make -------------------------------

def loop_model(loop_xml: str, element: str = "scriptTask") -> bytes:
    body = "<bpmn:script>x = 1</bpmn:script>" if element == "scriptTask" else ""
    extra = ' camunda:formKey="f" camunda:candidateGroups="window"' if element == "userTask" else ""
    return (
        '<?xml version="1.0"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d"><bpmn:process id="p" isExecutable="true">'
        f'<bpmn:startEvent id="s"/><bpmn:{element} id="work"{extra}>{loop_xml}{body}</bpmn:{element}>'
        '<bpmn:userTask id="u" camunda:formKey="f" camunda:candidateGroups="window"/><bpmn:endEvent id="e"/>'
        '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="work"/><bpmn:sequenceFlow id="f2" sourceRef="work" '
        'targetRef="u"/><bpmn:sequenceFlow id="f3" sourceRef="u" targetRef="e"/></bpmn:process>'
        '</bpmn:definitions>').encode()


def mi(cardinality: str) -> str:
    return (f'<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>{cardinality}'
            '</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>')


def check(bpmn: bytes):
    from app.engine.parser import check_model
    from tests.fixtures.build import form
    return check_model(bpmn, "p.bpmn", {"f": form("f", [])})


def refusals(bpmn: bytes) -> list[str]:
    from app.domain.errors import InvalidModel
    with pytest.raises(InvalidModel) as err:
        check(bpmn)
    return [f"{e['element']}: {e['message']}" for e in err.value.errors]


@pytest.mark.parametrize("loop", [
    mi("100000000"), mi("10 ** 8"), mi("1001"), mi("'a'"),
    '<bpmn:standardLoopCharacteristics><bpmn:loopCondition>x &gt; 5</bpmn:loopCondition>'
    '</bpmn:standardLoopCharacteristics>',
    '<bpmn:standardLoopCharacteristics loopMaximum="100000000"/>',
    '<bpmn:standardLoopCharacteristics loopMaximum="many"><bpmn:loopCondition>x &gt; 5</bpmn:loopCondition>'
    '</bpmn:standardLoopCharacteristics>',
])
def test_loops_that_could_run_away_are_refused_at_check_time(loop):
    problems = refusals(loop_model(loop))
    assert problems and all(p.startswith("work: ") for p in problems), problems


def test_a_standard_loop_on_a_user_task_needs_no_maximum_but_not_a_huge_one():
    loop = '<bpmn:standardLoopCharacteristics><bpmn:loopCondition>x</bpmn:loopCondition></bpmn:standardLoopCharacteristics>'
    assert check(loop_model(loop, "userTask")).process_id == "p"
    assert refusals(loop_model('<bpmn:standardLoopCharacteristics loopMaximum="5000"/>', "userTask"))


@pytest.mark.parametrize("loop", [mi("3"), mi("1000"), mi("n"),
                                  '<bpmn:standardLoopCharacteristics loopMaximum="5"/>'])
def test_bounded_loops_pass(loop):
    assert check(loop_model(loop)).process_id == "p"


def test_a_cardinality_from_task_data_is_checked_before_any_instance_exists():
    from app.engine.runtime import Engine
    model = check(loop_model(mi("n")))
    engine = Engine()
    pair = (model.spec, model.subprocess_specs)
    result = engine.start(pair, {"n": 3})
    assert result.incident is None and [t.element_id for t in result.ready] == ["u"]
    result = engine.start(pair, {"n": 5000})
    assert result.incident is not None and result.incident.element_id == "work"
    assert "5000" in result.incident.message and "1000" in result.incident.message
    assert len(result.workflow.get_tasks()) < 20, "no instance was created"
