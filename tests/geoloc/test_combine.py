"""The rule that combines answers: which source wins, when to ask, when sources disagree."""

from __future__ import annotations

from geoloc.locator import SOURCE_PRECEDENCE, Locator, combine
from geoloc.model import Confidence, LocationAnswer, LocationSource


def answer(
    source: LocationSource,
    departement: str | None,
    confidence: Confidence,
    candidates: tuple[str, ...] = (),
) -> LocationAnswer:
    return LocationAnswer(
        departement=departement,
        commune=None,
        commune_name=None,
        source=source,
        confidence=confidence,
        candidates=candidates,
    )


NETWORK_29 = answer(LocationSource.NETWORK, "29", Confidence.HIGH)
AML_56 = answer(LocationSource.AML, "56", Confidence.HIGH)
AML_29 = answer(LocationSource.AML, "29", Confidence.HIGH)
IVR_13 = answer(LocationSource.IVR_DEPARTEMENT, "13", Confidence.HIGH)
NUMBER_67_LOW = answer(LocationSource.CALLER_NUMBER, "67", Confidence.LOW)
MOBILE = answer(LocationSource.CALLER_NUMBER, None, Confidence.NONE)


def test_given_no_answer_then_ask_the_caller() -> None:
    decision = combine([])
    assert decision.chosen is None
    assert decision.ask_caller is True
    assert decision.conflict is False
    assert decision.reason == "Aucune source ne donne le département : le demander à l'appelant."


def test_given_only_a_mobile_number_then_ask_the_caller() -> None:
    decision = combine([MOBILE])
    assert decision.departement is None
    assert decision.ask_caller is True


def test_given_network_departement_then_it_wins_without_asking() -> None:
    decision = combine([NETWORK_29, MOBILE])
    assert decision.departement == "29"
    assert decision.chosen is NETWORK_29
    assert decision.ask_caller is False
    assert decision.conflict is False


def test_given_network_and_aml_agree_then_no_conflict() -> None:
    decision = combine([AML_29, NETWORK_29])
    assert decision.chosen is NETWORK_29
    assert decision.conflict is False


def test_given_network_and_aml_disagree_then_network_wins_and_conflict_flagged() -> None:
    decision = combine([AML_56, NETWORK_29])
    assert decision.departement == "29"
    assert decision.conflict is True
    assert decision.ask_caller is False
    assert "localisation AML du téléphone : 56 (confiance élevée)" in decision.reason
    assert decision.reason.endswith("À signaler à l'écoutant.")


def test_given_caller_answer_and_aml_disagree_then_the_caller_wins_flagged() -> None:
    # A 115 caller may call for someone elsewhere (outreach team, neighbour).
    decision = combine([AML_56, IVR_13])
    assert decision.departement == "13"
    assert decision.conflict is True
    assert decision.ask_caller is False


def test_given_medium_aml_beats_low_landline_guess() -> None:
    aml_medium = answer(LocationSource.AML, "56", Confidence.MEDIUM)
    decision = combine([NUMBER_67_LOW, aml_medium])
    assert decision.departement == "56"
    assert decision.conflict is False  # a low answer never makes a conflict
    assert decision.ask_caller is False


def test_given_high_aml_beats_medium_cedex_postcode() -> None:
    cedex = answer(LocationSource.IVR_POSTCODE, "75", Confidence.MEDIUM)
    decision = combine([cedex, AML_56])
    assert decision.departement == "56"
    assert decision.conflict is True
    assert decision.ask_caller is False


def test_given_only_a_low_answer_then_it_is_proposed_and_the_caller_asked() -> None:
    decision = combine([NUMBER_67_LOW])
    assert decision.departement == "67"
    assert decision.ask_caller is True
    assert decision.candidates == ("67",)
    assert decision.reason.endswith("Confirmer le département avec l'appelant.")


def test_given_two_medium_answers_disagreeing_then_ask_with_both() -> None:
    overseas_number = answer(LocationSource.CALLER_NUMBER, "972", Confidence.MEDIUM)
    nearest = answer(LocationSource.POSITION, "971", Confidence.MEDIUM)
    decision = combine([overseas_number, nearest])
    assert decision.departement == "971"  # position precedes the caller's number
    assert decision.conflict is True
    assert decision.ask_caller is True
    assert decision.candidates == ("971", "972")


def test_given_shared_postcode_alone_then_ask_between_its_departements() -> None:
    shared = answer(LocationSource.IVR_POSTCODE, None, Confidence.LOW, ("01", "74"))
    decision = combine([shared])
    assert decision.chosen is None
    assert decision.ask_caller is True
    assert decision.candidates == ("01", "74")
    assert decision.reason == (
        "Département incertain entre 01, 74 : demander le département à l'appelant."
    )


def test_given_shared_postcode_and_aml_then_aml_decides() -> None:
    shared = answer(LocationSource.IVR_POSTCODE, None, Confidence.LOW, ("01", "74"))
    aml_74 = answer(LocationSource.AML, "74", Confidence.HIGH)
    decision = combine([shared, aml_74])
    assert decision.departement == "74"
    assert decision.ask_caller is False


def test_given_equal_confidence_then_precedence_order_decides() -> None:
    assert SOURCE_PRECEDENCE[0] is LocationSource.NETWORK
    assert SOURCE_PRECEDENCE[-1] is LocationSource.CALLER_NUMBER
    for i, first in enumerate(SOURCE_PRECEDENCE):
        for second in SOURCE_PRECEDENCE[i + 1 :]:
            a = answer(first, "29", Confidence.MEDIUM)
            b = answer(second, "56", Confidence.MEDIUM)
            assert combine([b, a]).chosen is a


def test_given_real_answers_then_locator_combine_uses_the_rule(locator: Locator) -> None:
    network = locator.from_network("+33 2 98 00 00 00", {"+33298000000": "29"})
    postcode = locator.from_postcode("29200")
    number = locator.from_number("06 12 34 56 78")
    decision = locator.combine([number, postcode, network])
    assert decision.chosen is network
    assert decision.conflict is False
    assert decision.reason == (
        "Département 29 retenu d'après numéro appelé (réseau) : 29 (confiance élevée)."
    )


def test_given_called_number_in_routing_then_network_answer_high(locator: Locator) -> None:
    routing = {"+33298000000": "29", "+33140000000": "75"}
    result = locator.from_network("01 40 00 00 00", routing)
    assert result.departement == "75"
    assert result.source is LocationSource.NETWORK
    assert result.confidence is Confidence.HIGH
    assert result.detail == "Appel reçu sur le numéro +33140000000, celui de Paris (75)."


def test_given_routing_keys_in_national_form_then_still_matched(locator: Locator) -> None:
    result = locator.from_network("+33298000000", {"02 98 00 00 00": "29"})
    assert result.departement == "29"


def test_given_called_number_not_in_routing_then_none(locator: Locator) -> None:
    result = locator.from_network("+33800000000", {"+33298000000": "29"})
    assert result.departement is None
    assert result.confidence is Confidence.NONE
    assert "rattaché à aucun département" in result.detail


def test_given_routing_to_an_unknown_code_then_none_and_config_blamed(locator: Locator) -> None:
    result = locator.from_network("+33298000000", {"+33298000000": "20"})
    assert result.departement is None
    assert result.detail.startswith("Configuration :")
