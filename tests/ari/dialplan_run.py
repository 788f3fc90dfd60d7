"""Runs the generated fallback dialplan as Asterisk would, for a call nobody answers.

Only the applications and functions ``ivr.transports.ari.dialplan`` writes are known
(``Set``, ``Goto``, ``GotoIf``, ``Gosub``/``Return``, ``ExecIf``, ``Dial``, ``Answer``,
``Playback``, ``Hangup``, ``NoOp``, ``Log``; ``STRFTIME``, ``EPOCH``, ``CALLERID``); anything
else fails the test, so the generator cannot drift into what this runner does not know.
Expressions follow Asterisk's ``$[...]``: ``|`` binds loosest, then ``&``, then the
comparisons; both sides numeric compare as numbers (``strtod``), otherwise as strings.
The same dialplan was run on a real Asterisk 22.10.1 (docs/asterisk.md, "Fallback plan").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

_EXTEN = re.compile(r"^exten\s*=>\s*([^,]+),(\d+)(?:\(([^)]*)\))?,(.*)$")
_SAME = re.compile(r"^same\s*=>\s*n(?:\(([^)]*)\))?,(.*)$")
_APP = re.compile(r"^(\w+)\((.*)\)$")
_INNERMOST = re.compile(r"\$\{([^${}]*)\}")
_EXPRESSION = re.compile(r"^\$\[(.*)\]$")


@dataclass
class Priority:
    label: str | None
    app: str
    args: str


@dataclass
class Outcome:
    """What the caller went through: each ``Dial`` (targets, timeout) and the prompts."""

    dials: list[tuple[tuple[str, ...], int]] = field(default_factory=list)
    played: list[str] = field(default_factory=list)
    answered: bool = False
    warnings: list[str] = field(default_factory=list)


def parse(text: str) -> dict[str, dict[str, list[Priority]]]:
    contexts: dict[str, dict[str, list[Priority]]] = {}
    context: dict[str, list[Priority]] | None = None
    current: list[Priority] | None = None
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            context = contexts.setdefault(line[1:-1], {})
            continue
        assert context is not None, f"outside a context: {raw}"
        if match := _EXTEN.match(line):
            exten, number, label, body = match.groups()
            assert number == "1", raw
            current = context.setdefault(exten, [])
            current.append(_priority(label, body))
        elif match := _SAME.match(line):
            assert current is not None, raw
            current.append(_priority(match.group(1), match.group(2)))
        else:
            raise AssertionError(f"unknown dialplan line: {raw}")
    return contexts


def _priority(label: str | None, body: str) -> Priority:
    match = _APP.match(body)
    assert match, f"not an application: {body}"
    return Priority(label, match.group(1), match.group(2))


def _pattern_matches(pattern: str, exten: str) -> bool:
    if not pattern.startswith("_"):
        return pattern == exten
    regex = ""
    for char in pattern[1:]:
        regex += {"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]", ".": ".+", "!": ".*"}.get(
            char, re.escape(char)
        )
    return re.fullmatch(regex, exten) is not None


def _split_args(args: str) -> list[str]:
    """Split on commas outside parentheses and ``${...}``."""
    parts, depth, current = [], 0, ""
    for char in args:
        if char in "({[":
            depth += 1
        elif char in ")}]":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


class Runner:
    def __init__(self, text: str, now: datetime, caller: str = "+33612345678") -> None:
        self.contexts = parse(text)
        self.now = now
        self.caller = caller

    def run(self, context: str, exten: str, max_steps: int = 10_000) -> Outcome:
        outcome = Outcome()
        variables: dict[str, str] = {"EXTEN": exten}
        stack: list[tuple[tuple[str, str, int], dict[str, str]]] = []
        local: dict[str, str] = {}
        position = self._find(context, exten)
        for _ in range(max_steps):
            context, exten, index = position
            priority = self.contexts[context][self._exten_key(context, exten)][index]
            position = (context, exten, index + 1)
            app, args = priority.app, priority.args
            values = {**variables, **local, "EXTEN": exten}
            if app == "NoOp":
                continue
            if app == "Set":
                name, value = args.split("=", 1)
                value = self._substitute(value, values)
                if name.startswith("LOCAL(") and name.endswith(")"):
                    local[name[6:-1]] = value
                else:
                    variables[name] = value
            elif app == "Goto":
                position = self._goto(context, exten, _split_args(args))
            elif app == "GotoIf":
                condition, _, targets = args.partition("?")
                when_true, _, when_false = targets.partition(":")
                chosen = when_true if self._truth(condition, values) else when_false
                if chosen:
                    position = self._goto(context, exten, _split_args(chosen))
            elif app == "Gosub":
                stack.append((position, local))
                local = {}
                target = _split_args(args)
                position = self._find(target[0], target[1])
            elif app == "Return":
                position, local = stack.pop()
            elif app == "ExecIf":
                condition, _, inner = args.partition("?")
                if self._truth(condition, values):
                    match = _APP.match(inner)
                    assert match, inner
                    if match.group(1) == "Hangup":
                        return outcome
                    assert match.group(1) == "Log", inner
                    outcome.warnings.append(self._substitute(match.group(2), values))
            elif app == "Dial":
                targets, timeout = _split_args(args)
                outcome.dials.append((tuple(targets.split("&")), int(timeout)))
                variables["DIALSTATUS"] = "NOANSWER"
            elif app == "Answer":
                outcome.answered = True
            elif app == "Playback":
                outcome.played.append(args)
            elif app == "Hangup":
                return outcome
            else:
                raise AssertionError(f"application not known to the runner: {app}")
        raise AssertionError("the dialplan loops")

    def _exten_key(self, context: str, exten: str) -> str:
        extens = self.contexts[context]
        if exten in extens:
            return exten
        for pattern in extens:
            if _pattern_matches(pattern, exten):
                return pattern
        raise AssertionError(f"no extension {exten} in [{context}]")

    def _find(self, context: str, exten: str) -> tuple[str, str, int]:
        self._exten_key(context, exten)
        return (context, exten, 0)

    def _goto(self, context: str, exten: str, target: list[str]) -> tuple[str, str, int]:
        if len(target) == 3:
            context, exten, label = target
        else:
            (label,) = target
        priorities = self.contexts[context][self._exten_key(context, exten)]
        if label.isdigit():
            return (context, exten, int(label) - 1)
        for index, priority in enumerate(priorities):
            if priority.label == label:
                return (context, exten, index)
        raise AssertionError(f"no label {label} in [{context}] {exten}")

    def _substitute(self, text: str, values: dict[str, str]) -> str:
        while match := _INNERMOST.search(text):
            text = text[: match.start()] + self._value(match.group(1), values) + text[match.end() :]
        return text

    def _value(self, name: str, values: dict[str, str]) -> str:
        if name == "EPOCH":
            return str(int(self.now.timestamp()))
        if name == "CALLERID(num)":
            return self.caller
        if name.startswith("STRFTIME(") and name.endswith(")"):
            epoch, zone, fmt = _split_args(name[9:-1])
            return datetime.fromtimestamp(int(epoch), ZoneInfo(zone)).strftime(fmt)
        return values.get(name, "")

    def _truth(self, condition: str, values: dict[str, str]) -> bool:
        match = _EXPRESSION.match(condition.strip())
        assert match, f"not an expression: {condition}"
        result = _Expression(self._substitute(match.group(1), values)).evaluate()
        return result not in ("", "0")


class _Expression:
    """``a | b``, ``a & b``, ``a <op> b``, parentheses, quoted strings and numbers."""

    _TOKEN = re.compile(r'\s*("[^"]*"|>=|<=|!=|[|&()=<>]|[^\s|&()=<>!"]+)')

    def __init__(self, text: str) -> None:
        self.tokens = [m.group(1) for m in self._TOKEN.finditer(text)]
        self.at = 0

    def evaluate(self) -> str:
        value = self._or()
        assert self.at == len(self.tokens), f"left over: {self.tokens[self.at :]}"
        return value

    def _peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def _take(self) -> str:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def _or(self) -> str:
        left = self._and()
        while self._peek() == "|":
            self._take()
            right = self._and()
            left = "1" if left not in ("", "0") or right not in ("", "0") else "0"
        return left

    def _and(self) -> str:
        left = self._compare()
        while self._peek() == "&":
            self._take()
            right = self._compare()
            left = "1" if left not in ("", "0") and right not in ("", "0") else "0"
        return left

    def _compare(self) -> str:
        left = self._atom()
        if self._peek() in ("=", "!=", ">=", "<=", "<", ">"):
            op = self._take()
            right = self._atom()
            a: float | str
            b: float | str
            try:
                a, b = float(left), float(right)
            except ValueError:
                a, b = left, right
            result = {
                "=": a == b,
                "!=": a != b,
                ">=": a >= b,  # type: ignore[operator]
                "<=": a <= b,  # type: ignore[operator]
                "<": a < b,  # type: ignore[operator]
                ">": a > b,  # type: ignore[operator]
            }[op]
            return "1" if result else "0"
        return left

    def _atom(self) -> str:
        token = self._take()
        if token == "(":
            value = self._or()
            assert self._take() == ")"
            return value
        return token[1:-1] if token.startswith('"') else token
