"""The harness itself: what it counts as a browser error, so a page that breaks its script or
the Content-Security-Policy cannot pass unnoticed."""

from __future__ import annotations

import pytest

from tests.browser.conftest import Tab

pytestmark = pytest.mark.browser


def test_given_an_inline_script_then_the_csp_refusal_is_counted_as_an_error(tab: Tab) -> None:
    tab.goto("/connexion")
    tab.page.evaluate(
        """() => { const s = document.createElement("script");
        s.textContent = "document.title = 'injecté';"; document.body.append(s); }"""
    )
    tab.page.wait_for_timeout(200)
    assert tab.page.title() == "Connexion — 115 et assistance SI SIAO"  # refused by the CSP
    errors = tab.unexpected_errors()
    assert any("Content Security Policy" in error for error in errors), errors
    tab.errors.clear()  # seen: the test does not fail at its end


def test_given_a_script_error_then_it_is_counted(tab: Tab) -> None:
    tab.goto("/connexion")
    tab.page.evaluate("setTimeout(() => { throw new Error('cassé'); }, 0)")
    tab.page.wait_for_timeout(200)
    assert [e for e in tab.unexpected_errors() if "cassé" in e], tab.errors
    tab.errors.clear()
