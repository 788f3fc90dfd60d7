"""The suite-wide log scan recognises full numbers, and the masking helper hides them."""

from __future__ import annotations

import logging

import pytest

from routing.phone import mask_number
from tests.conftest import NumberScan, full_numbers


@pytest.mark.parametrize(
    "text",
    [
        "call-back to +33612345678 refused",
        "appel de 06 12 34 56 78",
        "from 33612345678",
        "numéro 0612345678.",
        "to 01.23.45.67.89",
    ],
)
def test_given_a_full_number_then_the_scan_flags_it(text: str) -> None:
    assert full_numbers(text)
    scan = NumberScan()
    scan.handle(logging.LogRecord("x", logging.WARNING, __file__, 1, text, None, None))
    assert scan.leaks == [f"x: {text}"]


@pytest.mark.parametrize(
    "text",
    [
        "call-back by +33*******78 refused",
        "AML reçu : +3361234****",
        "call CA1234567890 id 123456789012345",
        "département 91, 2 listeners",
    ],
)
def test_given_no_full_number_then_the_scan_is_quiet(text: str) -> None:
    assert full_numbers(text) == []


def test_given_numbers_then_the_mask_keeps_neither_of_them_whole() -> None:
    assert mask_number("+33612345678") == "+33*******78"
    assert mask_number("06 12 34 56 78") == "061*****78"
    assert mask_number(None) == "?"
    assert mask_number("115") == "***"
    for raw in ("+33612345678", "0612345678", "33612345678"):
        assert full_numbers(mask_number(raw)) == []
