"""JUEL → Python: the expressions of BPMN files written for Camunda 7 / Flowable / Activiti.

Designers import such files; their sequence-flow conditions, people fields (candidateGroups,
candidateUsers, assignee), timers, loopCardinality, completionCondition and camunda:collection hold
JUEL (``${...}`` or ``#{...}``), while this platform evaluates **Python** in the restricted sandbox
(task data variables as plain names). :func:`translate` gives the exact Python translation or says
why there is none; it never raises and does a bounded amount of work on any input.

What "exact" means here: the same result for the same data when every variable holds the JSON type
its use implies (numbers in arithmetic, a string compared with a string, a boolean in a condition).
JUEL coerces between types (``'1' == 1`` is true, ``'false'`` is a false condition, a missing map
key or list index gives null, ``null < 1`` is false); Python does not, and fails or differs there.
Those coercions cannot be decided without the data, so they are not refused; everything whose
meaning is known to differ without looking at data is refused: method and function calls, the
Camunda context objects, EL 3.0 syntax (lambda, ``=``, ``+=``, ``;``, collection literals),
``instanceof``, ``+`` on anything but numbers, negative literal indexes, ambiguous string escapes,
names that Python or the sandbox cannot use.

The tokenizer and the recursive-descent parser are written for this module. Precedence, lowest
first: ternary, ``||``, ``&&``, equality, relational, additive, multiplicative, unary (``! not -
empty``), postfix (``.`` ``[]`` ``()``). The Python is parenthesised wherever its precedence or its
comparison chaining would read the text differently (``!a == b`` → ``(not a) == b``).
"""
from __future__ import annotations

import ast
import keyword
import math
import unicodedata
from dataclasses import dataclass, replace

#: longest JUEL text translated (characters)
MAX_LENGTH = 4000
#: deepest nesting of operators / parentheses translated
MAX_DEPTH = 40
#: start of the problem given when the translator itself failed (a bug, never expected)
INTERNAL_ERROR = "翻译器内部错误"

_WORD_OPS = {"eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=", "ge": ">=",
             "and": "&&", "or": "||", "not": "!", "div": "/", "mod": "%"}
_LITERAL_WORDS = {"true": "True", "false": "False", "null": "None", "empty": None}
_TWO_CHAR_OPS = ("==", "!=", "<=", ">=", "&&", "||")
_ONE_CHAR_OPS = "<>!+-*/%?:.,()[]"
_UNSUPPORTED = {
    "->": ("lambda 表达式", "lambda expression (EL 3.0)"),
    "+=": ("字符串拼接运算符 +=", "string concatenation operator += (EL 3.0)"),
    "=": ("赋值运算符 =", "assignment operator = (EL 3.0)"),
    ";": ("分号连接的多个表达式", "semicolon expression sequence (EL 3.0)"),
    "{": ("集合或映射字面量", "set or map literal (EL 3.0)"),
    "instanceof": ("instanceof 运算符", "instanceof operator"),
}
#: names the Camunda engine resolves to its own objects, not to process variables
_CONTEXT_NAMES = ("task", "externalTask", "caseExecution", "authenticatedUserId", "variableScope")
#: names the sandbox provides (builtins, helpers): a variable of that name would not be the data
_SANDBOX_NAMES = frozenset((
    "len", "min", "max", "sum", "sorted", "any", "all", "abs", "round", "int", "float", "str", "bool",
    "list", "dict", "set", "tuple", "range", "enumerate", "zip", "isinstance", "reversed", "map",
    "filter", "divmod", "hash", "frozenset", "chr", "ord", "format", "repr", "ValueError", "KeyError",
    "TypeError", "Exception", "Decimal", "date", "datetime", "timedelta", "today", "now",
    "working_days_after", "add_working_days", "is_working_day"))
_NUMERIC = ("int", "float", "negnum", "negfloat", "ref", "arith")
_LITERALS = ("str", "int", "float", "negnum", "negfloat", "bool", "null")
_NOT_SPACE = "\u00a0\u2007\u202f\x85"


@dataclass(frozen=True)
class Translation:
    source: str            # the text as found
    juel: bool             # True when the text is a JUEL expression (is or contains ${...} / #{...})
    python: str | None     # the exact Python translation, or None when there is none
    problem: str | None    # zh_CN (English) reason when python is None and juel is True


class _Refused(Exception):
    """The text is JUEL but has no exact Python translation; the argument is the message."""


def _malformed(zh: str, en: str) -> _Refused:
    return _Refused(f"JUEL 表达式不完整或有误：{zh} (incomplete or malformed JUEL expression: {en})")


def _unsupported(what: str) -> _Refused:
    zh, en = _UNSUPPORTED[what]
    return _Refused(f"无法翻译的 JUEL 语法：{zh} (unsupported JUEL syntax: {en})")


def _as_text(text) -> str | None:
    if isinstance(text, str):
        return text
    if isinstance(text, (bytes, bytearray, memoryview)):
        return bytes(text).decode("utf-8", errors="replace")
    return None


def is_juel(text) -> bool:
    """True when ``text`` is or contains a JUEL expression (``${...}`` or ``#{...}``)."""
    text = _as_text(text)
    return text is not None and ("${" in text or "#{" in text)


# ---------------------------------------------------------------------------------------- tokens
@dataclass(frozen=True)
class _Tok:
    kind: str      # str int float id kw op
    value: object  # the string's value, the number's text, the name, the keyword, the operator
    start: int
    end: int


def _is_space(ch: str) -> bool:
    return ch.isspace() and ch not in _NOT_SPACE


def _id_start(ch: str) -> bool:
    return ch in "_$" or ch.isalpha()


def _id_part(ch: str) -> bool:
    return _id_start(ch) or ch.isdigit()


def _scan(text: str, pos: int) -> tuple[list[_Tok], int]:
    """The tokens of the expression starting at ``pos`` (just after ``${``), and the index after
    its closing ``}``."""
    toks: list[_Tok] = []
    n = len(text)
    i = pos
    while i < n:
        ch = text[i]
        if _is_space(ch):
            i += 1
        elif ch == "}":
            return toks, i + 1
        elif ch in "'\"":
            value, i2 = _scan_string(text, i)
            toks.append(_Tok("str", value, i, i2))
            i = i2
        elif ch.isdigit() and ch.isascii() or (ch == "." and i + 1 < n and "0" <= text[i + 1] <= "9"):
            kind, i2 = _scan_number(text, i)
            toks.append(_Tok(kind, text[i:i2], i, i2))
            i = i2
        elif _id_start(ch):
            j = i + 1
            while j < n and _id_part(text[j]):
                j += 1
            word = text[i:j]
            if word in _WORD_OPS:
                toks.append(_Tok("op", _WORD_OPS[word], i, j))
            elif word in _LITERAL_WORDS:
                toks.append(_Tok("kw", word, i, j))
            elif word == "instanceof":
                raise _unsupported(word)
            else:
                toks.append(_Tok("id", word, i, j))
            i = j
        else:
            two = text[i:i + 2]
            if two in ("->", "+="):
                raise _unsupported(two)
            if two in _TWO_CHAR_OPS:
                toks.append(_Tok("op", two, i, i + 2))
                i += 2
            elif ch in _ONE_CHAR_OPS:
                toks.append(_Tok("op", ch, i, i + 1))
                i += 1
            elif ch in "=;{":
                raise _unsupported(ch)
            else:
                raise _malformed(f"意外的字符 {ch!r}", f"unexpected character {ch!r}")
    raise _malformed("缺少结束的右花括号 }", "missing closing }")


def _scan_string(text: str, i: int) -> tuple[str, int]:
    quote = text[i]
    out: list[str] = []
    j = i + 1
    n = len(text)
    while j < n:
        ch = text[j]
        if ch == quote:
            return "".join(out), j + 1
        if ch == "\\":
            nxt = text[j + 1] if j + 1 < n else ""
            if nxt in (quote, "\\") and nxt:
                out.append(nxt)
                j += 2
                continue
            if not nxt:
                break
            raise _Refused(f"字符串中的转义 \\{nxt} 在各 JUEL 实现中含义不同 "
                           f"(the escape \\{nxt} in a string means different things in different JUEL implementations)")
        out.append(ch)
        j += 1
    raise _malformed("字符串缺少结束引号", "unterminated string literal")


def _scan_number(text: str, i: int) -> tuple[str, int]:
    n = len(text)
    j = i
    while j < n and "0" <= text[j] <= "9":
        j += 1
    kind = "int"
    if j < n and text[j] == "." and not (j + 1 < n and _id_start(text[j + 1]) and text[j + 1] not in "eE"):
        kind = "float"
        j += 1
        while j < n and "0" <= text[j] <= "9":
            j += 1
    if j < n and text[j] in "eE":
        k = j + 1
        if k < n and text[k] in "+-":
            k += 1
        if k < n and "0" <= text[k] <= "9":
            while k < n and "0" <= text[k] <= "9":
                k += 1
            kind, j = "float", k
    return kind, j


# ---------------------------------------------------------------------------------------- parser
@dataclass(frozen=True)
class _Expr:
    py: str        # the Python text
    kind: str      # str int float negnum bool null ref arith logic cond
    atomic: bool   # needs no parentheses as an operand
    depth: int     # operator nesting
    start: int     # source span, for messages
    end: int
    value: object = None  # a literal's JUEL value (str / number text)


def _wrap(e: _Expr) -> str:
    return e.py if e.atomic else f"({e.py})"


def _node(py: str, kind: str, atomic: bool, parts: tuple[_Expr, ...], start: int, end: int) -> _Expr:
    depth = 1 + max((p.depth for p in parts), default=0)
    if depth > MAX_DEPTH:
        raise _Refused(f"表达式嵌套超过 {MAX_DEPTH} 层 (expression nested deeper than {MAX_DEPTH} levels)")
    return _Expr(py, kind, atomic, depth, start, end)


def _python_name(name: str) -> str:
    """The Python name of the JUEL variable ``name``, or a refusal."""
    if name == "initiator":
        return "applicant"
    if name.startswith("_"):
        raise _Refused(f"变量名 {name} 以下划线开头，沙箱不允许 (variable {name}: names starting with _ are not allowed)")
    if not name.isidentifier() or unicodedata.normalize("NFKC", name) != name:
        raise _Refused(f"变量名 {name} 不是合法的 Python 名称 (variable {name} is not a valid Python name)")
    if keyword.iskeyword(name):
        raise _Refused(f"变量名 {name} 是 Python 关键字 (variable {name} is a Python keyword)")
    if name in _SANDBOX_NAMES:
        raise _Refused(f"变量名 {name} 与沙箱内置函数同名 (variable {name} has the name of a sandbox helper)")
    return name


class _Parser:
    def __init__(self, toks: list[_Tok], text: str, end: int):
        self.toks, self.text, self.i, self.nesting = toks, text, 0, 0
        self.eof = _Tok("eof", None, end, end)

    def peek(self, k: int = 0) -> _Tok:
        return self.toks[self.i + k] if self.i + k < len(self.toks) else self.eof

    def is_op(self, *ops: str, k: int = 0) -> bool:
        tok = self.peek(k)
        return tok.kind == "op" and tok.value in ops

    def take(self) -> _Tok:
        tok = self.peek()
        self.i += 1
        return tok

    def expect(self, op: str) -> _Tok:
        if not self.is_op(op):
            raise self.unexpected(f"缺少 {op}", f"expected {op}")
        return self.take()

    def unexpected(self, zh: str, en: str) -> _Refused:
        tok = self.peek()
        if tok.kind == "eof":
            return _malformed(f"{zh}，表达式提前结束", f"{en}, the expression ends too early")
        found = self.text[tok.start:tok.end]
        return _malformed(f"{zh}，却遇到 {found}", f"{en}, found {found}")

    def src(self, start: int, end: int) -> str:
        return " ".join(self.text[start:end].split())

    def parse(self) -> _Expr:
        if not self.toks:
            raise _malformed("表达式为空", "empty expression")
        e = self.expression()
        if self.peek().kind != "eof":
            raise self.unexpected("表达式后有多余内容", "unexpected text after the expression")
        return e

    def enter(self) -> None:
        self.nesting += 1
        if self.nesting > MAX_DEPTH:
            raise _Refused(f"表达式嵌套超过 {MAX_DEPTH} 层 (expression nested deeper than {MAX_DEPTH} levels)")

    def expression(self) -> _Expr:
        self.enter()
        cond = self.binary(0)
        if self.is_op("?"):
            self.take()
            then = self.expression()
            self.expect(":")
            other = self.expression()
            py = f"({_wrap(then)} if {_wrap(cond)} else {_wrap(other)})"
            cond = _node(py, "cond", True, (cond, then, other), cond.start, other.end)
        self.nesting -= 1
        return cond

    _LEVELS = (("||",), ("&&",), ("==", "!="), ("<", ">", "<=", ">="), ("+", "-"), ("*", "/", "%"))

    def binary(self, level: int) -> _Expr:
        if level == len(self._LEVELS):
            return self.unary()
        ops = self._LEVELS[level]
        left = self.binary(level + 1)
        while self.is_op(*ops):
            op = self.take().value
            right = self.binary(level + 1)
            left = self.combine(left, op, right)
        return left

    def combine(self, left: _Expr, op: str, right: _Expr) -> _Expr:
        if op in ("+", "-", "*", "/", "%"):
            for side in (left, right):
                if side.kind not in _NUMERIC:
                    what = self.src(side.start, side.end)
                    raise _Refused(f"运算 {op} 的操作数 {what} 不是数字或变量：JUEL 会把它转成数字，Python 不会 "
                                   f"(operand {what} of {op} is not a number or a variable: JUEL coerces it to a "
                                   f"number, Python does not)")
            kind = "arith"
        elif op in ("<", ">", "<=", ">="):
            for side in (left, right):
                if side.kind in ("null", "bool"):
                    what = self.src(side.start, side.end)
                    raise _Refused(f"与 {what} 比较大小在 JUEL 与 Python 中结果不同 "
                                   f"(ordering against {what} gives different results in JUEL and Python)")
            kind = "logic"
        else:
            kind = "logic"
        py_op = {"&&": "and", "||": "or"}.get(op, op)
        return _node(f"{_wrap(left)} {py_op} {_wrap(right)}", kind, False, (left, right), left.start, right.end)

    def unary(self) -> _Expr:
        tok = self.peek()
        if tok.kind == "op" and tok.value in ("!", "-") or tok.kind == "kw" and tok.value == "empty":
            self.take()
            self.enter()
            x = self.unary()
            self.nesting -= 1
            if tok.value == "!":
                return _node(f"not {_wrap(x)}", "logic", False, (x,), tok.start, x.end)
            if tok.value == "empty":
                return _node(f"({_wrap(x)} in (None, '', [], {{}}))", "logic", True, (x,), tok.start, x.end)
            if x.kind not in _NUMERIC:
                what = self.src(x.start, x.end)
                raise _Refused(f"负号的操作数 {what} 不是数字或变量 (operand {what} of unary minus is not a number or a variable)")
            kind = {"int": "negnum", "float": "negfloat"}.get(x.kind, "arith")
            e = _node(f"-{_wrap(x)}", kind, False, (x,), tok.start, x.end)
            return _Expr(e.py, e.kind, e.atomic, e.depth, e.start, e.end, f"-{x.value}" if kind == "negnum" else None)
        return self.postfix(self.primary())

    def postfix(self, base: _Expr) -> _Expr:
        while self.is_op(".", "["):
            if base.kind in _LITERALS:
                what = self.src(base.start, base.end)
                raise _Refused(f"不能对字面量 {what} 取属性或下标 (property or index of the literal {what})")
            if self.take().value == ".":
                name = self.take()
                word = self.text[name.start:name.end]
                if name.kind == "kw" or name.kind == "op" and word.isalpha():
                    raise _malformed(f"{word} 是 JUEL 保留字，不能作属性名", f"{word} is a JUEL reserved word")
                if name.kind != "id":
                    self.i -= 1
                    raise self.unexpected("点号后缺少属性名", "expected a property name after .")
                if self.is_op("("):
                    what = self.src(base.start, name.end)
                    raise _Refused(f"无法翻译的调用 {what}() (method call: Python has no such bean)")
                key = _Expr(repr(name.value), "str", True, 0, name.start, name.end, name.value)
            else:
                key = self.expression()
                self.expect("]")
                if key.kind in ("negnum", "negfloat", "float", "bool", "null"):
                    what = self.src(key.start, key.end)
                    raise _Refused(f"下标 {what} 在 JUEL 与 Python 中含义不同 (index {what} means something else in JUEL and Python)")
            base = _node(f"{_wrap(base)}[{key.py}]", "ref", True, (base, key), base.start, self.peek(-1).end)
        if self.is_op("("):
            what = self.src(base.start, base.end)
            raise _Refused(f"无法翻译的调用 {what}(...) (call of a computed value)")
        return base

    def primary(self) -> _Expr:
        tok = self.take()
        if tok.kind == "str":
            return _Expr(repr(tok.value), "str", True, 0, tok.start, tok.end, tok.value)
        if tok.kind == "int":
            value = int(tok.value)
            if value > 2 ** 63 - 1:
                raise _Refused(f"整数 {tok.value} 超出 JUEL 的 Long 范围 (integer {tok.value} is out of JUEL's Long range)")
            return _Expr(str(value), "int", True, 0, tok.start, tok.end, str(value))
        if tok.kind == "float":
            value = float(tok.value)
            if not math.isfinite(value):
                raise _Refused(f"小数 {tok.value} 超出范围 (number {tok.value} is out of range)")
            return _Expr(repr(value), "float", True, 0, tok.start, tok.end, tok.value)
        if tok.kind == "kw" and tok.value != "empty":
            return _Expr(_LITERAL_WORDS[tok.value], "bool" if tok.value != "null" else "null", True, 0,
                         tok.start, tok.end, tok.value)
        if tok.kind == "op" and tok.value == "(":
            inner = self.expression()
            close = self.expect(")")
            return replace(inner, start=tok.start, end=close.end)
        if tok.kind == "id":
            return self.identifier(tok)
        self.i -= 1
        raise self.unexpected("缺少操作数", "expected an operand")

    def identifier(self, tok: _Tok) -> _Expr:
        name = tok.value
        if self.is_op("(") or self.is_op(":") and self.peek(1).kind == "id" and self.is_op("(", k=2):
            end = self.peek(1).end if self.is_op(":") else tok.end
            what = self.src(tok.start, end)
            raise _Refused(f"无法翻译的调用 {what}() (function call: the platform has no such function)")
        if name == "execution":
            return self.execution(tok)
        if name in _CONTEXT_NAMES:
            raise _Refused(f"无法翻译 {name}：这是 Camunda 的上下文对象，本平台没有 "
                           f"({name} is a Camunda context object this platform does not have)")
        return _Expr(_python_name(name), "ref", True, 0, tok.start, tok.end)

    def execution(self, tok: _Tok) -> _Expr:
        member = self.peek(1) if self.is_op(".") else None
        if (member is not None and member.kind == "id" and member.value == "getVariable" and self.is_op("(", k=2)
                and self.peek(3).kind == "str" and self.is_op(")", k=4)):
            var = self.peek(3)
            self.i += 5
            return _Expr(_python_name(var.value), "ref", True, 0, tok.start, self.peek(-1).end)
        what = "execution" + (f".{member.value}" if member is not None and member.kind == "id" else "")
        raise _Refused(f"无法翻译 {what}：Camunda 的 execution 对象在本平台不存在，只翻译 execution.getVariable('名称') "
                       f"(the Camunda execution object does not exist here; only execution.getVariable('name') "
                       f"is translated)")


# ---------------------------------------------------------------------------------------- text
def _parts(text: str) -> list:
    """The text split into literal strings and parsed expressions (with their ``$``/``#`` mark)."""
    parts: list = []
    marks = set()
    i = 0
    while True:
        hits = [j for j in (text.find("${", i), text.find("#{", i)) if j >= 0]
        if not hits:
            parts.append(text[i:])
            break
        j = min(hits)
        parts.append(text[i:j])
        marks.add(text[j])
        toks, end = _scan(text, j + 2)
        parts.append(_Parser(toks, text, end - 1).parse())
        i = end
    if len(marks) > 1:
        raise _malformed("不能在同一段文本中混用 ${ } 和 #{ }", "${ } and #{ } cannot be mixed in one text")
    if any("\\" in p for p in parts if isinstance(p, str)):
        raise _Refused("表达式外的文本含反斜杠，其转义含义在各 JUEL 实现中不同 "
                       "(a backslash in the text around the expression is an escape that JUEL implementations read differently)")
    return parts


def _composite(parts: list) -> str:
    """Literal text and expressions concatenated as JUEL does (each value turned into text)."""
    pieces: list = []   # str: literal text; _Expr: a Python operand already turned into text
    for p in parts:
        if isinstance(p, str):
            text = p
        elif p.kind in ("str", "int", "negnum"):
            text = p.value
        elif p.kind in ("bool", "null"):
            text = "" if p.value == "null" else p.value
        elif p.kind in ("float", "negfloat"):
            raise _Refused(f"文本中的小数 {p.py} 在 Java 与 Python 中写法不同 (a decimal number in text is written "
                           "differently by Java and Python)")
        elif p.kind == "logic":
            pieces.append(f"('true' if {p.py} else 'false')")
            continue
        else:
            pieces.append(f"str({p.py})")
            continue
        if pieces and isinstance(pieces[-1], _Lit):
            pieces[-1] = _Lit(pieces[-1] + text)
        else:
            pieces.append(_Lit(text))
    out = [repr(str(p)) if isinstance(p, _Lit) else p for p in pieces if not (isinstance(p, _Lit) and not p)]
    return " + ".join(out) if out else "''"


class _Lit(str):
    """Literal text in a composite (not yet Python)."""


def _juel_to_python(text: str) -> str:
    if len(text) > MAX_LENGTH:
        raise _Refused(f"表达式超过 {MAX_LENGTH} 个字符 (expression longer than {MAX_LENGTH} characters)")
    parts = _parts(text)
    exprs = [p for p in parts if isinstance(p, _Expr)]
    if len(exprs) == 1 and all(p.strip() == "" for p in parts if isinstance(p, str)):
        return exprs[0].py
    return _composite(parts)


def translate(text) -> Translation:
    """The Python translation of the JUEL in ``text`` (see the module's docstring); never raises."""
    source = _as_text(text)
    if source is None:
        return Translation("" if text is None else repr(text)[:200], False, None,
                           None if text is None else "不是文本 (not text)")
    if not is_juel(source):
        return Translation(source, False, None, None)
    try:
        python = _juel_to_python(source)
        try:
            ast.parse(python, mode="eval")
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            raise _Refused("翻译结果不是合法的 Python 表达式 (the translation is not a valid Python expression)") from None
        return Translation(source, True, python, None)
    except _Refused as exc:
        return Translation(source, True, None, str(exc))
    except Exception as exc:  # a bug here must not break an import: say so instead of raising
        return Translation(source, True, None, f"{INTERNAL_ERROR} (internal translator error): {type(exc).__name__}")
