"""A provider played by the tests: signed webhooks shaped as Twilio and SignalWire send them.

``Phone`` posts forms to the app the way the provider does (to the public URL, which a
TLS-terminating proxy forwards to the app's private address) and parses the documents it
gets back; ``InboundCall`` drives one call through them, following the URLs each document
names. ``FakeProvider`` is the REST API (it records what the service asked), ``ManualTimers``
the runtime's timers, fired by hand.
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from ivr.transports.laml.client import OutboundCall, ProviderError
from ivr.transports.laml.signature import compute_signature

PUBLIC_BASE_URL = "https://ivr.example.org"
PRIVATE_BASE_URL = "http://10.0.0.5:8115"  # where the proxy forwards, plain HTTP
AUTH_TOKEN = "jeton-secret-de-test-0123456789ab"
ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
ASSISTANCE = "+33806000156"
ENTRY_115 = "+33353019999"  # the national 115 entry: the caller is asked the département
PARIS_115 = "+33353010750"
CALLER = "+33612345678"
PARIS_REFERENTS = ("+33199000750", "+33199000751", "+33199000752")
NATIONAL_SUPPORT = ("+33536490001", "+33536490002")
PARIS_LISTENERS = ("+33261910750", "+33261910751", "+33261910752")
PARIS_LRO = ("+33465710075", "+33465719900", "+33465719901")


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class ManualTimers:
    """The runtime's timers, fired only when a test says so."""

    def __init__(self) -> None:
        self.armed: dict[tuple[str, str], Callable[[], Coroutine[Any, Any, None]]] = {}

    def start(
        self, key: tuple[str, str], seconds: float, fire: Callable[[], Coroutine[Any, Any, None]]
    ) -> None:
        self.armed[key] = fire

    def cancel(self, key: tuple[str, str]) -> None:
        self.armed.pop(key, None)

    def cancel_call(self, call_id: str) -> None:
        for key in [k for k in self.armed if k[0] == call_id]:
            del self.armed[key]

    async def fire(self, call_id: str, name: str) -> None:
        await self.armed.pop((call_id, name))()


@dataclass
class FakeProvider:
    """The provider's REST API: records requests, answers with sids, fails on demand."""

    created: list[tuple[str, OutboundCall]] = field(default_factory=list)
    redirected: list[tuple[str, str]] = field(default_factory=list)
    ended: list[tuple[str, bool]] = field(default_factory=list)
    deleted_queues: list[str] = field(default_factory=list)
    fail_create: ProviderError | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def create_call(self, call: OutboundCall) -> str:
        if self.fail_create is not None:
            raise self.fail_create
        sid = f"CA{next(self._ids):032x}"
        self.created.append((sid, call))
        return sid

    async def redirect_call(self, call_sid: str, url: str) -> None:
        self.redirected.append((call_sid, url))

    async def end_call(self, call_sid: str, *, answered: bool) -> None:
        self.ended.append((call_sid, answered))

    async def delete_queue(self, queue_sid: str) -> None:
        self.deleted_queues.append(queue_sid)


# --------------------------------------------------------------------------- documents


@dataclass
class Verb:
    tag: str
    attrs: dict[str, str]
    text: str
    children: list[Verb]

    def child(self, tag: str) -> Verb:
        found = [c for c in self.children if c.tag == tag]
        assert len(found) == 1, f"expected one <{tag}> in <{self.tag}>, got {self.children}"
        return found[0]


@dataclass
class Doc:
    """A LaML document the service answered, verb by verb."""

    verbs: list[Verb]
    raw: bytes

    @classmethod
    def parse(cls, raw: bytes) -> Doc:
        assert raw.startswith(b'<?xml version="1.0" encoding="UTF-8"?>'), raw[:60]
        root = ET.fromstring(raw)
        assert root.tag == "Response"
        return cls([_verb(e) for e in root], raw)

    @property
    def tags(self) -> list[str]:
        return [v.tag for v in self.verbs]

    def only(self, tag: str) -> Verb:
        found = [v for v in self.verbs if v.tag == tag]
        assert len(found) == 1, f"expected one <{tag}>, got {self.tags}"
        return found[0]

    def said(self) -> list[str]:
        """Every <Say> text, nested ones included, in order."""
        out: list[str] = []

        def walk(verbs: list[Verb]) -> None:
            for verb in verbs:
                if verb.tag == "Say":
                    assert verb.attrs["language"] == "fr-FR"
                    out.append(verb.text)
                walk(verb.children)

        walk(self.verbs)
        return out

    def dialled(self) -> list[str]:
        return [n.text for n in self.only("Dial").children if n.tag == "Number"]


def _verb(element: ET.Element) -> Verb:
    return Verb(
        element.tag,
        dict(element.attrib),
        (element.text or "").strip(),
        [_verb(c) for c in element],
    )


# --------------------------------------------------------------------------- the provider


class Phone:
    """Posts signed webhooks as the provider does, through the proxy."""

    def __init__(self, http: httpx.AsyncClient, token: str = AUTH_TOKEN) -> None:
        self.http = http
        self.token = token
        self.requests = 0

    async def post(
        self,
        url: str,
        fields: Mapping[str, str],
        *,
        signature: str | None = "auto",
        header: str = "X-Twilio-Signature",
        sign_url: str | None = None,
    ) -> httpx.Response:
        """POST ``fields`` to the public ``url``; the proxy forwards it to the app."""
        assert url.startswith(PUBLIC_BASE_URL), url
        parts = urlsplit(url)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if signature == "auto":
            headers[header] = compute_signature(self.token, sign_url or url, fields.items())
        elif signature is not None:
            headers[header] = signature
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        self.requests += 1
        return await self.http.post(target, content=urlencode(dict(fields)), headers=headers)

    async def doc(self, url: str, fields: Mapping[str, str], **options: Any) -> Doc:
        response = await self.post(url, fields, **options)
        assert response.status_code == 200, (response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/xml")
        return Doc.parse(response.content)


_sids = itertools.count(1)


def new_sid(prefix: str = "CA") -> str:
    return f"{prefix}{next(_sids):032x}"


class InboundCall:
    """One call as the provider drives it: each step posts to a URL the last document named."""

    def __init__(
        self,
        phone: Phone,
        to: str,
        from_: str = CALLER,
        sid: str | None = None,
        account_sid: str = ACCOUNT_SID,
    ) -> None:
        self.phone = phone
        self.to = to
        self.from_ = from_
        self.sid = sid or new_sid()
        self.account_sid = account_sid
        self.status = "ringing"
        self.sequence = 0

    def fields(self, **extra: str) -> dict[str, str]:
        """The standard request parameters of a voice webhook, plus ``extra``."""
        base = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "CallSid": self.sid,
            "CallStatus": self.status,
            "Called": self.to,
            "CalledCountry": "FR",
            "Caller": self.from_,
            "CallerCountry": "FR",
            "Direction": "inbound",
            "From": self.from_,
            "FromCountry": "FR",
            "To": self.to,
            "ToCountry": "FR",
        }
        base.update(extra)
        return base

    async def start(self) -> Doc:
        doc = await self.phone.doc(f"{PUBLIC_BASE_URL}/laml/voice", self.fields())
        self.status = "in-progress"
        return doc

    async def press(self, doc: Doc, digits: str) -> Doc:
        """Type ``digits`` during the document's <Gather>."""
        gather = doc.only("Gather")
        fields = self.fields(Digits=digits, FinishedOnKey="", msg="Gather End")
        return await self.phone.doc(gather.attrs["action"], fields)

    async def stay_silent(self, doc: Doc) -> Doc:
        """Let the <Gather> time out: the provider runs the <Redirect> that follows it."""
        assert doc.tags[-2:] == ["Gather", "Redirect"], doc.tags
        return await self.phone.doc(doc.verbs[-1].text, self.fields())

    async def dial_ends(
        self, doc: Doc, status: str, answered_by: str | None = None, duration: int = 0
    ) -> Doc:
        """The <Dial> ends with ``status``; an answered dial first runs the whisper URL."""
        dial = doc.only("Dial")
        dial_sid = new_sid()
        if answered_by is not None:
            number = next(n for n in dial.children if n.text == answered_by)
            whisper = await self.phone.doc(
                number.attrs["url"],
                {
                    "AccountSid": self.account_sid,
                    "CallSid": dial_sid,
                    "ParentCallSid": self.sid,
                    "CallStatus": "in-progress",
                    "Direction": "outbound-dial",
                    "From": self.from_,
                    "To": answered_by,
                },
            )
            assert whisper.verbs == []  # an empty document: the bridge goes ahead
        fields = self.fields(
            DialCallSid=dial_sid, DialCallStatus=status, DialCallDuration=str(duration)
        )
        return await self.phone.doc(dial.attrs["action"], fields)

    async def wait(self, doc: Doc, position: int = 1) -> Doc:
        """One run of the <Enqueue> wait URL."""
        enqueue = doc.only("Enqueue")
        fields = self.fields(
            QueuePosition=str(position),
            QueueSid="QU" + "a" * 32,
            QueueTime="12",
            AvgQueueTime="30",
            CurrentQueueSize="1",
            MaxQueueSize="100",
        )
        return await self.phone.doc(enqueue.attrs["waitUrl"], fields)

    async def press_while_waiting(self, wait_doc: Doc, digits: str) -> Doc:
        gather = wait_doc.only("Gather")
        fields = self.fields(Digits=digits, QueueSid="QU" + "a" * 32)
        return await self.phone.doc(gather.attrs["action"], fields)

    async def leave_queue(self, doc: Doc, result: str, *, status: str | None = None) -> Doc:
        """The call leaves the queue: the provider posts the <Enqueue> action."""
        enqueue = doc.only("Enqueue")
        fields = self.fields(QueueResult=result, QueueSid="QU" + "a" * 32, QueueTime="40")
        if status is not None:
            fields["CallStatus"] = status
        return await self.phone.doc(enqueue.attrs["action"], fields)

    async def status_callback(self, status: str, duration: int = 0) -> httpx.Response:
        self.status = status
        fields = self.fields(
            CallDuration=str(duration),
            Duration=str((duration + 59) // 60),
            CallbackSource="call-progress-events",
            SequenceNumber=str(self.sequence),
            Timestamp="Mon, 10 Mar 2025 09:05:00 +0000",
        )
        self.sequence += 1
        return await self.phone.post(f"{PUBLIC_BASE_URL}/laml/status", fields)

    async def hang_up(self, duration: int = 60) -> None:
        response = await self.status_callback("completed", duration)
        assert response.status_code == 200, response.text


def outbound_fields(
    call: OutboundCall, sid: str, status: str, account_sid: str = ACCOUNT_SID, **extra: str
) -> dict[str, str]:
    """What the provider posts for an outbound call the service placed."""
    fields = {
        "AccountSid": account_sid,
        "ApiVersion": "2010-04-01",
        "CallSid": sid,
        "CallStatus": status,
        "Called": call.to,
        "Caller": call.from_,
        "Direction": "outbound-api",
        "From": call.from_,
        "To": call.to,
    }
    fields.update(extra)
    return fields
