"""The signature algorithm against vectors derived by hand from its documented steps."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivr.transports.laml.schemas import parse_pairs
from ivr.transports.laml.signature import SignatureChecker, compute_signature, url_variants


def by_hand(token: str, data: str) -> str:
    """Step 3 and 4 of the documented algorithm, on a string built by hand in the test."""
    digest = hmac.new(token.encode(), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def test_given_twilio_documented_example_then_signature_is_the_published_one() -> None:
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    # URL, then each parameter sorted by name, name and value with no delimiter.
    data = (
        "https://mycompany.com/myapp.php?foo=1&bar=2"
        "CallSidCA1234567890ABCDE"
        "Caller+12349013030"
        "Digits1234"
        "From+12349013030"
        "To+18005551212"
    )
    assert by_hand("12345", data) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    assert compute_signature("12345", url, params.items()) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_given_french_webhook_with_blank_field_then_sorted_case_sensitively_and_utf8() -> None:
    url = "https://ivr.example.org/laml/gather?s=1"
    params = [
        ("To", "+33806000156"),
        ("Digits", "75"),
        ("FinishedOnKey", ""),
        ("CallerCity", "Saint-Étienne"),
        ("AccountSid", "AC0123"),
        ("msg", "Gather End"),  # lower case sorts after every capitalised name
    ]
    data = (
        "https://ivr.example.org/laml/gather?s=1"
        "AccountSidAC0123"
        "CallerCitySaint-Étienne"
        "Digits75"
        "FinishedOnKey"
        "To+33806000156"
        "msgGather End"
    )
    assert compute_signature("jeton", url, params) == by_hand("jeton", data)


def test_given_the_same_request_then_a_changed_field_changes_the_signature() -> None:
    url = "https://ivr.example.org/laml/gather?s=1"
    genuine = compute_signature("jeton", url, [("Digits", "75")])
    assert compute_signature("jeton", url, [("Digits", "76")]) != genuine
    assert compute_signature("jeton", url + "0", [("Digits", "75")]) != genuine
    assert compute_signature("Jeton", url, [("Digits", "75")]) != genuine  # the token's case


def test_given_url_without_port_then_variant_with_default_port_is_also_accepted() -> None:
    assert url_variants("https://ivr.example.org/laml/voice") == (
        "https://ivr.example.org/laml/voice",
        "https://ivr.example.org:443/laml/voice",
    )
    assert url_variants("https://ivr.example.org:443/laml/voice?s=2") == (
        "https://ivr.example.org:443/laml/voice?s=2",
        "https://ivr.example.org/laml/voice?s=2",
    )
    assert url_variants("https://ivr.example.org:8443/laml/voice") == (
        "https://ivr.example.org:8443/laml/voice",
    )


def test_given_signature_made_with_port_443_then_checker_accepts_it() -> None:
    checker = SignatureChecker("jeton", "https://ivr.example.org")
    url = checker.public_url("/laml/voice", "")
    signed_with_port = compute_signature("jeton", "https://ivr.example.org:443/laml/voice", [])
    assert checker.check(url, [], [signed_with_port]).ok


def test_given_no_signature_header_then_verdict_says_it_is_missing() -> None:
    verdict = SignatureChecker("jeton", "https://ivr.example.org").check("https://x/", [], [])
    assert not verdict.ok
    assert verdict.reason == "no X-Twilio-Signature or X-SignalWire-Signature header"


def test_given_wrong_signature_then_verdict_names_the_url_checked() -> None:
    checker = SignatureChecker("jeton", "https://ivr.example.org/")
    url = checker.public_url("/laml/voice", "a=1")
    verdict = checker.check(url, [("CallSid", "CA1")], ["bm90IGEgc2lnbmF0dXJl"])
    assert not verdict.ok
    assert verdict.reason == (
        "signature does not match https://ivr.example.org/laml/voice?a=1 "
        "(check IVR_PUBLIC_BASE_URL and the auth token)"
    )


def test_given_one_valid_among_two_headers_then_request_is_genuine() -> None:
    checker = SignatureChecker("jeton", "https://ivr.example.org")
    url = checker.public_url("/laml/voice", "")
    good = compute_signature("jeton", url, [("CallSid", "CA1")])
    assert checker.check(url, [("CallSid", "CA1")], ["bad", good]).ok


@pytest.mark.parametrize(("token", "base"), [("", "https://x"), ("jeton", "ivr.example.org")])
def test_given_missing_token_or_relative_base_url_then_checker_refuses_to_exist(
    token: str, base: str
) -> None:
    with pytest.raises(ValueError, match=r"auth token is empty|not an http"):
        SignatureChecker(token, base)


@given(
    st.lists(
        st.tuples(st.text(min_size=1, max_size=12), st.text(max_size=20)), min_size=0, max_size=8
    )
)
def test_given_any_urlencoded_form_then_fields_parse_as_the_standard_library_does(
    pairs: list[tuple[str, str]],
) -> None:
    body = urlencode(pairs)
    assert parse_pairs(body) == parse_qsl(body, keep_blank_values=True)
    assert parse_pairs("From=%2B33612345678&To=%2b33806000156&msg=Gather+End") == [
        ("From", "+33612345678"),
        ("To", "+33806000156"),
        ("msg", "Gather End"),
    ]
