"""LaML / TwiML documents: a ``<Response>`` of verbs, built with ElementTree.

Only the verbs and attributes this service uses, spelled as both providers document them
(TwiML for Twilio, cXML/LaML for SignalWire). Attribute values are strings in the XML.
The tree is written out by ``_write`` rather than ``ElementTree.tostring``: these documents
have no namespaces, comments or tails, and the general serializer's namespace pass costs
more than the whole rest of a webhook.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>'
CONTENT_TYPE = "application/xml"
LANGUAGE = "fr-FR"

Attrs = dict[str, str | int | None]


def _set(element: ET.Element, attrs: Attrs) -> ET.Element:
    for name, value in attrs.items():
        if value is not None:
            element.set(name, str(value))
    return element


class Document:
    """One response document; verbs are appended in the order the provider runs them."""

    def __init__(self) -> None:
        self.root = ET.Element("Response")

    # ----------------------------------------------------------------- verbs

    def say(self, text: str, voice: str | None = None, parent: ET.Element | None = None) -> None:
        element = ET.SubElement(parent if parent is not None else self.root, "Say")
        _set(element, {"language": LANGUAGE, "voice": voice})
        element.text = text

    def play(self, url: str, parent: ET.Element | None = None, loop: int | None = None) -> None:
        element = ET.SubElement(parent if parent is not None else self.root, "Play")
        _set(element, {"loop": loop})
        element.text = url

    def pause(self, seconds: int, parent: ET.Element | None = None) -> None:
        _set(
            ET.SubElement(parent if parent is not None else self.root, "Pause"), {"length": seconds}
        )

    def gather(self, *, num_digits: int, timeout_s: int, action: str) -> ET.Element:
        """A DTMF ``<Gather>``; nest the prompt in the returned element."""
        return _set(
            ET.SubElement(self.root, "Gather"),
            {
                "input": "dtmf",
                "numDigits": num_digits,
                "timeout": timeout_s,
                "finishOnKey": "#",
                "action": action,
                "method": "POST",
            },
        )

    def dial(
        self,
        *,
        timeout_s: int,
        action: str,
        caller_id: str | None = None,
        record: bool = False,
        recording_callback: str | None = None,
    ) -> ET.Element:
        """A ``<Dial>``; add ``number`` or ``queue`` nouns to the returned element."""
        attrs: Attrs = {
            "timeout": timeout_s,
            "action": action,
            "method": "POST",
            "callerId": caller_id,
        }
        if record:
            attrs["record"] = "record-from-answer-dual"
            attrs["recordingStatusCallback"] = recording_callback
            attrs["recordingStatusCallbackMethod"] = "POST"
            attrs["recordingStatusCallbackEvent"] = "in-progress completed absent"
        return _set(ET.SubElement(self.root, "Dial"), attrs)

    @staticmethod
    def number(dial: ET.Element, number: str, url: str | None = None) -> None:
        """A ``<Number>``; ``url`` runs on the answering party's leg before the bridge."""
        element = _set(
            ET.SubElement(dial, "Number"), {"url": url, "method": "POST" if url else None}
        )
        element.text = number

    @staticmethod
    def queue(dial: ET.Element, name: str) -> None:
        ET.SubElement(dial, "Queue").text = name

    def enqueue(self, name: str, *, wait_url: str, action: str) -> None:
        element = _set(
            ET.SubElement(self.root, "Enqueue"),
            {"waitUrl": wait_url, "waitUrlMethod": "POST", "action": action, "method": "POST"},
        )
        element.text = name

    def redirect(self, url: str) -> None:
        _set(ET.SubElement(self.root, "Redirect"), {"method": "POST"}).text = url

    def leave(self) -> None:
        ET.SubElement(self.root, "Leave")

    def hangup(self) -> None:
        ET.SubElement(self.root, "Hangup")

    # ----------------------------------------------------------------- output

    def __len__(self) -> int:
        return len(self.root)

    def to_bytes(self) -> bytes:
        out: list[str] = []
        _write(self.root, out)
        return XML_DECLARATION + "".join(out).encode("utf-8")


def _escape_text(text: str) -> str:
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


def _escape_attr(value: str) -> str:
    value = _escape_text(value)
    if '"' in value:
        value = value.replace('"', "&quot;")
    for raw, entity in (("\n", "&#10;"), ("\r", "&#13;"), ("\t", "&#09;")):
        if raw in value:
            value = value.replace(raw, entity)
    return value


def _write(element: ET.Element, out: list[str]) -> None:
    out.append("<" + element.tag)
    for name, value in element.attrib.items():
        out.append(f' {name}="{_escape_attr(value)}"')
    if not element.text and not len(element):
        out.append("/>")
        return
    out.append(">")
    if element.text:
        out.append(_escape_text(element.text))
    for child in element:
        _write(child, out)
    out.append(f"</{element.tag}>")


def empty() -> bytes:
    """``<Response/>``: the answer to a callback, or a whisper that lets the bridge proceed."""
    return Document().to_bytes()


def hangup() -> bytes:
    doc = Document()
    doc.hangup()
    return doc.to_bytes()


def leave() -> bytes:
    doc = Document()
    doc.leave()
    return doc.to_bytes()
