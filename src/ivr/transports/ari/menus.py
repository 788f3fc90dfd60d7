"""A call's menus: the question asked, the keys typed (ahead of it too), the answer given
to the flow (``Menus``, a part of ``AriCall``).
"""

from __future__ import annotations

import logging

from ivr.flow.keypad import Collecting, Completed, Ignored, Restarted
from ivr.flow.vocabulary import (
    Dial,
    DigitsReceived,
    Gather,
    Hangup,
    Hold,
    InputTimedOut,
    Play,
)
from ivr.transports.ari.media import CallMedia
from ivr.transports.ari.ports import Wait

log = logging.getLogger(__name__)


class Menus(CallMedia):
    """The menus and keys part of a call (``AriCall`` is one)."""

    async def _ask(self, command: Gather, generation: int) -> None:
        """Run a ``Gather``: its answer may be typed ahead already, in full or in part."""
        self.wait = Wait.DIGITS
        answer = self.keys.open(command.max_digits)
        if isinstance(answer, Completed):
            # Typed ahead in full: the menu is not even heard.
            await self._end_gather(answer.digits)
        elif isinstance(answer, Collecting):
            self._arm_timer("digits", command.inter_digit_timeout_s)
        elif await self._play(command.prompt):
            self.prompt_playing = True
        elif generation == self.generation and not self.ended:
            self._arm_timer("digits", command.timeout_s)

    async def _digit(self, digit: str) -> None:
        if self.wait is Wait.HOLD or (
            self.wait is Wait.PLAYBACK and any(isinstance(c, Hold) for c in self.pending)
        ):
            # On hold, or hearing the announcements that lead to it: the flow decides.
            await self.feed(DigitsReceived(digit))
            return
        command = self.current
        if self.wait is Wait.DIGITS and isinstance(command, Gather):
            await self._menu_key(command, digit)
        elif self.wait in (Wait.STARTING, Wait.NOTHING, Wait.PLAYBACK):
            # Typed ahead: kept for the next menu. The welcome stops at the first key when
            # a menu follows it, as Background() does; other prompts play to their end.
            kept = self.keys.press(digit)
            if (
                not isinstance(kept, Ignored)
                and self.wait is Wait.PLAYBACK
                and self.play_interruptible
                and self._menu_ahead()
            ):
                await self._skip_to_menu()
        # Ringing, connected, ended: keys are not for the menus (a connected call's DTMF).

    async def _menu_key(self, command: Gather, digit: str) -> None:
        answer = self.keys.press(digit)
        if isinstance(answer, Ignored):
            log.info("call %s: key %r ignored", self.call_id, digit)
            return
        await self._stop_prompt()
        if isinstance(answer, Completed):
            await self._end_gather(answer.digits)
        elif isinstance(answer, Restarted):
            # "*": the answer starts again, and the caller hears the question again.
            self._cancel_timer()
            if await self._play(command.prompt):
                self.prompt_playing = True
            elif not self.ended:
                self._arm_timer("digits", command.timeout_s)
        else:
            self._arm_timer("digits", command.inter_digit_timeout_s)

    def _menu_ahead(self) -> bool:
        """A menu comes next in this batch (before any ringing, hold or hang-up)."""
        for command in self.pending:
            if isinstance(command, Gather):
                return True
            if isinstance(command, Dial | Hold | Hangup):
                return False
        return False

    async def _skip_to_menu(self) -> None:
        """Stop the interruptible prompt under way and go on to the menu that follows."""
        await self._stop_prompt()
        self._cancel_timer()
        while self.pending and isinstance(self.pending[0], Play) and self.pending[0].interruptible:
            self.pending.popleft()
        self.wait = Wait.NOTHING
        self.current = None
        self.play_interruptible = False
        await self._advance()

    async def _end_gather(self, digits: str) -> None:
        self.keys.close()
        self._cancel_timer()
        await self._stop_prompt()
        self.wait = Wait.NOTHING
        self.current = None
        await self.feed(DigitsReceived(digits) if digits else InputTimedOut())

    async def _digits_timed_out(self) -> None:
        if self.wait is Wait.DIGITS:
            await self._end_gather(self.keys.timed_out().digits)
