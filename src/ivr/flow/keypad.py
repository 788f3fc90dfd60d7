"""Keys a caller types, read the way callers of Asterisk's ``Background()``/``Read()`` expect.

Regular callers know the menus and type ahead: keys pressed while a prompt plays (the
welcome, an announcement, a menu) are kept, in order, and applied to the next menu that
asks; what one menu does not need is left for the one after it. A menu that expects two
digits waits for the second (inter-digit timeout) rather than judge the first alone; ``#``
ends an answer early, ``*`` starts it again.

Pure and shared: every transport that collects keys itself (Asterisk ARI, the simulator)
drives one ``Keypad`` per call and acts on what it answers; no I/O, no clock (the
transport arms the time-outs each answer asks for).
"""

from __future__ import annotations

from dataclasses import dataclass

KEYS = frozenset("0123456789*#ABCD")
MAX_TYPED_AHEAD = 32  # a caller leaning on the keypad does not fill the memory


@dataclass(frozen=True, slots=True)
class Waiting:
    """Nothing of the answer typed yet: play the menu's prompt, wait for the first key."""


@dataclass(frozen=True, slots=True)
class Collecting:
    """An answer has begun: stop the menu's prompt, wait for the next key (inter-digit)."""


@dataclass(frozen=True, slots=True)
class Completed:
    """The answer is complete (``digits`` empty: ``#`` alone, or nothing before time-out)."""

    digits: str


@dataclass(frozen=True, slots=True)
class Restarted:
    """``*``: the answer starts again; ask the menu's question again."""


@dataclass(frozen=True, slots=True)
class Kept:
    """No menu is asking: the key waits for the next one."""


@dataclass(frozen=True, slots=True)
class Ignored:
    """Not a key (a transport glitch, garbage): nothing changes."""


KeyOutcome = Waiting | Collecting | Completed | Restarted | Kept | Ignored


@dataclass(slots=True)
class Keypad:
    """One call's keys: those typed ahead, and the answer of the menu asking now."""

    ahead: str = ""
    collected: str = ""
    expected: int = 0  # digits the menu asking now expects; 0 when no menu asks

    @property
    def asking(self) -> bool:
        return self.expected > 0

    def open(self, max_digits: int) -> KeyOutcome:
        """A menu asks for ``max_digits`` digits: the keys typed ahead are applied first."""
        self.expected = max(1, max_digits)
        self.collected = ""
        ahead, self.ahead = self.ahead, ""
        for index, key in enumerate(ahead):
            outcome = self._apply(key)
            if isinstance(outcome, Completed):
                self.ahead = ahead[index + 1 :]  # for the next menu
                return outcome
        return Collecting() if self.collected else Waiting()

    def press(self, key: str) -> KeyOutcome:
        """One key (a DTMF event)."""
        if len(key) != 1 or key.upper() not in KEYS:
            return Ignored()
        key = key.upper()
        if not self.asking:
            if len(self.ahead) < MAX_TYPED_AHEAD:
                self.ahead += key
            return Kept()
        return self._apply(key)

    def timed_out(self) -> Completed:
        """No key within the time-out: the answer is what was typed (maybe nothing)."""
        digits = self.collected
        self.close()
        return Completed(digits)

    def close(self) -> None:
        """The menu stops asking (answered, or superseded by the flow)."""
        self.expected = 0
        self.collected = ""

    def forget_ahead(self) -> None:
        """The caller is no longer in the menus (ringing, on hold, connected)."""
        self.ahead = ""

    def _apply(self, key: str) -> KeyOutcome:
        if key == "*":
            self.collected = ""
            return Restarted()
        if key == "#":
            digits = self.collected
            self.close()
            return Completed(digits)
        self.collected += key
        if len(self.collected) >= self.expected:
            digits = self.collected
            self.close()
            return Completed(digits)
        return Collecting()
