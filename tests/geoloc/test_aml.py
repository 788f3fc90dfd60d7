"""AML: the SMS form and the signed HTTPS form, including malformed and hostile input."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geoloc.aml import (
    AmlError,
    AmlSignatureError,
    parse_aml_sms,
    sign_aml_body,
    verify_and_parse_aml_https,
)
from geoloc.locator import Locator
from geoloc.model import Confidence, LocationSource

FORT_DE_FRANCE_SMS = (
    'A"ML=1;lt=+14.60920;lg=-61.07330;rd=25;top=20260115100000;lc=68;pm=G;'
    "si=208010000000000;ei=353456789012345;mcc=208;mnc=01;ml=124"
)
MEASURED = datetime(2026, 1, 15, 10, 0, 0, tzinfo=UTC)
KEY = b"cle-de-test-partagee-avec-la-passerelle"


def sms(**overrides: str | None) -> str:
    fields: dict[str, str | None] = {
        'A"ML': "1",
        "lt": "+48.39040",
        "lg": "-4.48610",
        "rd": "50",
        "top": "20260115100000",
        "lc": "68",
        "pm": "G",
        "si": "208010000000000",
        "ei": "353456789012345",
        "mcc": "208",
        "mnc": "01",
        "ml": "120",
    }
    fields.update(overrides)
    return ";".join(f"{k}={v}" for k, v in fields.items() if v is not None)


def https_body(**overrides: Any) -> bytes:
    document: dict[str, Any] = {
        "v": 1,
        "caller": "+596696201234",
        "lat": 14.6092,
        "lon": -61.0733,
        "radius_m": 12.5,
        "confidence_pct": 68,
        "positioned_at": "2026-01-15T10:00:00Z",
        "method": "G",
        "imei": "353456789012345",
        "mcc": "208",
        "mnc": "01",
    }
    document.update(overrides)
    return json.dumps({k: v for k, v in document.items() if v is not None}).encode()


# -- SMS form ------------------------------------------------------------------------------


def test_given_fort_de_france_sms_then_position_accuracy_time_and_method() -> None:
    report = parse_aml_sms(FORT_DE_FRANCE_SMS)
    assert report.lat == pytest.approx(14.6092)
    assert report.lon == pytest.approx(-61.0733)
    assert report.accuracy_m == 25
    assert report.at == MEASURED
    assert report.method == "G"
    assert report.method_label == "GNSS"
    assert report.confidence_pct == 68
    assert report.mcc == "208"
    assert report.form == "sms"


def test_given_domain_example_with_masked_identifiers_then_position_kept() -> None:
    text = (
        'A"ML=1;lt=+48.90;lg=+2.51;rd=1964;top=20220210134654;lc=95;pm=G;'
        "si=...;ei=...;mcc=208;mnc=01;ml=131"
    )
    report = parse_aml_sms(text)
    assert (report.lat, report.lon, report.accuracy_m) == (48.90, 2.51, 1964)
    assert report.imsi is None
    assert report.imei is None


def test_given_fort_de_france_sms_then_locator_says_972_with_accuracy(locator: Locator) -> None:
    answer = locator.from_aml_sms(FORT_DE_FRANCE_SMS, MEASURED + timedelta(minutes=2))
    assert answer.departement == "972"
    assert answer.commune_name == "Fort-de-France"
    assert answer.source is LocationSource.AML
    assert answer.confidence is Confidence.HIGH
    assert answer.accuracy_m == 25
    assert answer.detail.startswith("AML (GNSS), précision 25 m, mesurée il y a 2 min.")


def test_given_aml_measured_two_hours_ago_then_confidence_lowered_and_said(
    locator: Locator,
) -> None:
    answer = locator.from_aml_sms(FORT_DE_FRANCE_SMS, MEASURED + timedelta(hours=2))
    assert answer.departement == "972"
    assert answer.confidence is Confidence.MEDIUM
    assert "position ancienne, mesurée il y a 2 h" in answer.detail


def test_given_aml_from_the_future_then_confidence_lowered(locator: Locator) -> None:
    answer = locator.from_aml_sms(FORT_DE_FRANCE_SMS, MEASURED - timedelta(hours=1))
    assert answer.confidence is Confidence.MEDIUM
    assert "horodatage dans le futur" in answer.detail


def test_given_aml_at_sea_off_brest_then_29_nearest(locator: Locator) -> None:
    text = sms(lt="+48.33000", lg="-4.62000", rd="30")
    answer = locator.from_aml_sms(text, MEASURED + timedelta(seconds=20))
    assert answer.departement == "29"
    assert answer.nearest is True
    assert answer.accuracy_m == 30


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Message AML vide."),
        ("bonjour", "Ce n'est pas un message AML : il doit commencer par « A\"ML= »."),
        (sms(**{'A"ML': "2"}), "Version AML « 2 » non prise en charge (1 attendue)."),
        (sms(pm="N"), "Le message AML ne contient pas de position (pm=N)."),
        (sms(pm="Z"), "Méthode de positionnement « Z » inconnue."),
        (sms(lt=None), "Champ AML obligatoire « lt » absent."),
        (sms(top=None), "Champ AML obligatoire « top » absent."),
        (sms(lt="nan"), "Latitude « nan » invalide."),
        (sms(lt="1e2"), "Latitude « 1e2 » invalide."),
        (sms(lg="inf"), "Longitude « inf » invalide."),
        (sms(lt="+95.0"), "Latitude hors limites (−90 à 90)."),
        (sms(lg="-181.0"), "Longitude hors limites (−180 à 180)."),
        (
            sms(lt="+00.00000", lg="+000.00000"),
            "Position nulle (0, 0) : le téléphone n'a pas donné de position.",
        ),
        (sms(rd="N"), "Rayon de précision « N » invalide."),
        (sms(rd="-5"), "Rayon de précision « -5 » invalide."),
        (sms(rd="200000"), "Rayon de précision hors limites (0 à 100 km)."),
        (sms(top="20261340250000"), "Horodatage « 20261340250000 » invalide : date impossible."),
        (sms(top="hier"), "Horodatage « hier » invalide : AAAAMMJJhhmmss attendu."),
        (sms(lc="150"), "Niveau de confiance « 150 » invalide (0 à 100)."),
        (sms() + ";lt=+48.0", "Champ AML « lt » en double."),
        (sms() + ";garbage", "Champ AML mal formé « garbage » : clé=valeur attendu."),
        (
            sms(lg="-4.4\x00"),
            "Valeur du champ « lg » invalide (caractères interdits ou trop long).",
        ),
        ("A" + '"ML=1;' + "x=1;" * 300, "Message AML trop long (1207 caractères, 1024 au plus)."),
    ],
)
def test_given_malformed_sms_then_aml_error_with_exact_french_message(
    text: str, message: str
) -> None:
    with pytest.raises(AmlError) as caught:
        parse_aml_sms(text)
    assert str(caught.value) == message


def test_given_malformed_sms_then_locator_raises_aml_error(locator: Locator) -> None:
    with pytest.raises(AmlError):
        locator.from_aml_sms('A"ML=1;lt=abc', MEASURED)


@given(st.text(max_size=300))
def test_given_any_text_then_sms_parser_returns_a_report_or_an_aml_error(text: str) -> None:
    try:
        report = parse_aml_sms(text)
    except AmlError:
        return
    assert -90 <= report.lat <= 90
    assert -180 <= report.lon <= 180


@given(
    prefix=st.sampled_from(['A"ML=1;', 'A"ML=1;lt=+48.1;lg=+2.3;rd=10;top=20260101000000;']),
    rest=st.text(alphabet=st.characters(codec="ascii"), max_size=200),
)
def test_given_aml_prefix_and_hostile_tail_then_report_or_aml_error(prefix: str, rest: str) -> None:
    try:
        report = parse_aml_sms(prefix + rest)
    except AmlError:
        return
    assert report.accuracy_m is not None
    assert report.accuracy_m >= 0


@given(
    position=st.tuples(
        st.floats(min_value=-89.99999, max_value=89.99999),
        st.floats(min_value=-179.99999, max_value=179.99999),
    ).filter(lambda p: abs(p[0]) > 1e-4 or abs(p[1]) > 1e-4),
    radius=st.integers(min_value=0, max_value=100_000),
    at=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
    ),
    method=st.sampled_from("GWCH"),
)
def test_given_any_well_formed_sms_then_fields_read_back(
    position: tuple[float, float], radius: int, at: datetime, method: str
) -> None:
    lat, lon = position
    text = sms(
        lt=f"{lat:+.5f}",
        lg=f"{lon:+.5f}",
        rd=str(radius),
        top=at.strftime("%Y%m%d%H%M%S"),
        pm=method,
    )
    report = parse_aml_sms(text)
    assert report.lat == pytest.approx(lat, abs=1e-5)
    assert report.lon == pytest.approx(lon, abs=1e-5)
    assert report.accuracy_m == radius
    assert report.at == at.replace(microsecond=0)
    assert report.method == method


@given(cut=st.integers(min_value=0, max_value=len(FORT_DE_FRANCE_SMS)), junk=st.text(max_size=8))
def test_given_truncated_or_spliced_sms_then_never_an_unexpected_exception(
    cut: int, junk: str
) -> None:
    for text in (
        FORT_DE_FRANCE_SMS[:cut],
        FORT_DE_FRANCE_SMS[:cut] + junk + FORT_DE_FRANCE_SMS[cut:],
    ):
        with contextlib.suppress(AmlError):
            parse_aml_sms(text)


# -- HTTPS form ----------------------------------------------------------------------------


def test_given_signed_https_body_then_report_with_normalised_caller() -> None:
    body = https_body(caller="0696 20 12 34")
    report = verify_and_parse_aml_https(body, sign_aml_body(body, KEY), KEY)
    assert report.caller == "+596696201234"
    assert report.accuracy_m == 12.5
    assert report.at == MEASURED
    assert report.form == "https"


def test_given_signature_header_then_it_is_hmac_sha256_of_the_exact_body() -> None:
    body = https_body()
    expected = hmac.new(KEY, body, hashlib.sha256).hexdigest()
    assert sign_aml_body(body, KEY) == f"sha256={expected}"
    report = verify_and_parse_aml_https(body, f"SHA256={expected.upper()}", KEY)
    assert report.lat == pytest.approx(14.6092)


def test_given_missing_signature_then_signature_error_marked_missing() -> None:
    with pytest.raises(AmlSignatureError) as caught:
        verify_and_parse_aml_https(https_body(), "", KEY)
    assert caught.value.missing is True
    assert str(caught.value) == "Signature absente (en-tête X-AML-Signature)."


def test_given_signature_with_other_key_then_refused() -> None:
    body = https_body()
    with pytest.raises(AmlSignatureError) as caught:
        verify_and_parse_aml_https(body, sign_aml_body(body, b"autre-cle"), KEY)
    assert caught.value.missing is False
    assert str(caught.value) == "Signature invalide."


def test_given_body_changed_after_signing_then_refused() -> None:
    body = https_body()
    header = sign_aml_body(body, KEY)
    with pytest.raises(AmlSignatureError):
        verify_and_parse_aml_https(body.replace(b"14.6092", b"48.8566"), header, KEY)


@pytest.mark.parametrize("header", ["sha1=abcd", "sha256=xyz", "sha256=" + "0" * 63, "n'importe"])
def test_given_malformed_signature_header_then_refused(header: str) -> None:
    with pytest.raises(AmlSignatureError) as caught:
        verify_and_parse_aml_https(https_body(), header, KEY)
    assert str(caught.value) == "Signature mal formée : « sha256=<64 chiffres hexadécimaux> »."


def test_given_no_key_configured_then_everything_refused() -> None:
    body = https_body()
    with pytest.raises(AmlSignatureError):
        verify_and_parse_aml_https(body, sign_aml_body(body, b""), b"")


def test_given_signature_check_then_compare_is_constant_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[str, str]] = []
    real: Callable[[str, str], bool] = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    body = https_body()
    verify_and_parse_aml_https(body, sign_aml_body(body, KEY), KEY)
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[1, 2]", "Objet JSON attendu."),
        (b"{", "JSON invalide (ligne 1, colonne 2)."),
        (b"\xff\xfe", "Corps illisible : UTF-8 attendu."),
        (https_body(v=2), "Champ « v » : version 1 attendue."),
        (https_body(v=True), "Champ « v » : version 1 attendue."),
        (https_body(caller=None), "Champ « caller » : numéro de l'appelant attendu."),
        (
            https_body(caller="pas un numéro"),
            "Champ « caller » : numéro « pas un numéro » invalide.",
        ),
        (https_body(lat=None), "Champ « lat » obligatoire absent."),
        (https_body(lat="14.6"), "Champ « lat » : nombre attendu."),
        (https_body(lat=True), "Champ « lat » : nombre attendu."),
        (https_body(lat=10**400), "Champ « lat » : nombre hors limites."),
        (https_body(lon=200.0), "Longitude hors limites (−180 à 180)."),
        (https_body(radius_m=-1), "Rayon de précision hors limites (0 à 100 km)."),
        (
            https_body(positioned_at="2026-01-15T10:00:00"),
            "Champ « positioned_at » : fuseau horaire obligatoire (ex. « Z »).",
        ),
        (
            https_body(positioned_at="hier"),
            "Champ « positioned_at » : date « hier » invalide.",
        ),
        (https_body(method="X"), "Champ « method » invalide."),
        (https_body(confidence_pct=101), "Champ « confidence_pct » : entier de 0 à 100 attendu."),
        (https_body(imei="abc"), "Champ « imei » invalide."),
        (b'{"v": 1, "lat": NaN}', "Valeur JSON « NaN » interdite."),
        (b"[" * 5000 + b"]" * 5000, "JSON trop imbriqué."),
        (b" " * (16 * 1024 + 1), "Message trop volumineux (16385 octets, 16384 au plus)."),
    ],
)
def test_given_bad_https_payload_then_aml_error_with_exact_french_message(
    body: bytes, message: str
) -> None:
    with pytest.raises(AmlError) as caught:
        verify_and_parse_aml_https(body, sign_aml_body(body, KEY), KEY)
    assert not isinstance(caught.value, AmlSignatureError)
    assert str(caught.value) == message


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=20,
)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "v": JSON_VALUES | st.just(1),
            "caller": JSON_VALUES | st.just("+33612345678"),
            "lat": JSON_VALUES | st.floats(-100, 100),
            "lon": JSON_VALUES | st.floats(-200, 200),
            "radius_m": JSON_VALUES | st.floats(-10, 200_000),
            "positioned_at": JSON_VALUES | st.just("2026-01-15T10:00:00+01:00"),
            "method": JSON_VALUES | st.sampled_from("GWCHN"),
            "confidence_pct": JSON_VALUES,
            "imei": JSON_VALUES,
        },
    )
)
def test_given_any_signed_json_object_then_report_or_aml_error(document: dict[str, Any]) -> None:
    body = json.dumps(document, allow_nan=True).encode()
    try:
        report = verify_and_parse_aml_https(body, sign_aml_body(body, KEY), KEY)
    except AmlSignatureError:
        pytest.fail("a correctly signed body must pass the signature check")
    except AmlError:
        return
    assert report.caller is not None
    assert report.accuracy_m is not None


@given(st.binary(max_size=2000))
def test_given_any_signed_bytes_then_report_or_aml_error(body: bytes) -> None:
    try:
        verify_and_parse_aml_https(body, sign_aml_body(body, KEY), KEY)
    except AmlSignatureError:
        pytest.fail("a correctly signed body must pass the signature check")
    except AmlError:
        pass


@given(st.text(max_size=100))
def test_given_any_signature_header_on_a_good_body_then_refused_unless_right(header: str) -> None:
    body = https_body()
    try:
        verify_and_parse_aml_https(body, header, KEY)
    except AmlSignatureError:
        return
    assert header.strip().lower() == sign_aml_body(body, KEY)
