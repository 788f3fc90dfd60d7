"""A 115 call on the national entry number is routed by geoloc when geoloc is sure enough."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache

from geoloc.aml import parse_aml_sms
from geoloc.index import GeoIndex
from geoloc.locator import Locator
from geoloc.store import RecentPositions
from ivr.flow.vocabulary import CallStarted, FetchQueueStatus
from ivr.locating import CallLocator
from routing.loader import load_config
from tests.flow.helpers import ASSISTANCE, ENTRY_115, MINIMAL, PARIS_115, minimal_flow

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
MOBILE = "+33612345678"


@cache
def locator() -> Locator:
    return Locator(GeoIndex.load())


def call_locator(positions: RecentPositions | None = None) -> CallLocator:
    return CallLocator(
        locator(), positions or RecentPositions(clock=lambda: NOW), minimal_flow().routes
    )


def test_given_guadeloupe_landline_on_national_entry_then_hint_is_971_and_queue_checked() -> None:
    hint = call_locator().hint(ENTRY_115, "+590590123456", NOW)
    assert hint == "971"
    _, commands = minimal_flow().start(CallStarted("c", ENTRY_115, "+590590123456", hint), NOW)
    assert commands[-1] == FetchQueueStatus("971")


def test_given_mobile_without_position_then_no_hint_and_the_ivr_asks() -> None:
    assert call_locator().hint(ENTRY_115, MOBILE, NOW) is None


def test_given_recent_aml_position_in_paris_then_hint_is_75() -> None:
    positions = RecentPositions(clock=lambda: NOW)
    sms = (
        'A"ML=1;lt=+48.85660;lg=+2.35220;rd=50;top=20261123085900;lc=90;pm=G;'
        "si=1;ei=1;mcc=208;mnc=01;ml=100"
    )
    positions.attach(MOBILE, parse_aml_sms(sms))
    assert call_locator(positions).hint(ENTRY_115, MOBILE, NOW) == "75"


def test_given_departement_numbers_or_assistance_then_no_hint_is_needed() -> None:
    assert call_locator().hint(PARIS_115, "+590590123456", NOW) is None
    assert call_locator().hint(ASSISTANCE, "+590590123456", NOW) is None


def test_given_withheld_number_then_no_hint() -> None:
    assert call_locator().hint(ENTRY_115, None, NOW) is None


def test_given_departement_absent_from_configuration_then_no_hint() -> None:
    # Martinique is not in the minimal file: the caller is asked rather than misrouted.
    assert load_config(MINIMAL).departement("972") is None
    assert call_locator().hint(ENTRY_115, "+596596123456", NOW) is None
