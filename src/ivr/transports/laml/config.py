"""The LaML transport's settings, and the URLs of its webhooks as the provider calls them."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from ivr.settings import Settings

PREFIX = "/laml"


class LamlNotConfiguredError(ValueError):
    """The transport cannot run without its auth token and public URL (it fails closed)."""


@dataclass(frozen=True, slots=True)
class LamlConfig:
    """Everything the transport needs besides the runtime, the REST client and the clock."""

    auth_token: str  # signs the webhooks (Twilio auth token, SignalWire signing key)
    public_base_url: str  # what the provider calls, e.g. https://ivr.example.org
    account_sid: str | None = None  # when set, webhooks from another account are refused
    prompts_base_url: str | None = None  # hosted prompt files: <base>/<name>.wav
    hold_music_url: str | None = None  # a short hosted clip played while a 115 caller waits
    say_voice: str | None = None  # e.g. "Polly.Lea"; None: the provider's fr-FR default
    wait_pause_s: int = 8  # silence between queue checks when no hold music is configured
    webhook_budget_s: float = 5.0  # past this, a webhook answers the fallback document
    callback_caller_id: str | None = None  # None: the configured national call-back number

    def __post_init__(self) -> None:
        if not self.auth_token:
            raise LamlNotConfiguredError("IVR_LAML_AUTH_TOKEN is not set")
        if not self.public_base_url.startswith(("https://", "http://")):
            raise LamlNotConfiguredError(
                f"IVR_PUBLIC_BASE_URL {self.public_base_url!r} is not an http(s) URL"
            )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        prompts_base_url: str | None = None,
        hold_music_url: str | None = None,
        say_voice: str | None = None,
    ) -> LamlConfig:
        """The configuration from ``IVR_LAML_AUTH_TOKEN``, ``IVR_PUBLIC_BASE_URL``, ..."""
        token = settings.laml_auth_token.get_secret_value() if settings.laml_auth_token else ""
        if not token or not settings.public_base_url:
            raise LamlNotConfiguredError(
                "the LaML transport needs IVR_LAML_AUTH_TOKEN and IVR_PUBLIC_BASE_URL"
            )
        return cls(
            auth_token=token,
            public_base_url=settings.public_base_url,
            account_sid=settings.laml_account_sid,
            prompts_base_url=prompts_base_url,
            hold_music_url=hold_music_url,
            say_voice=say_voice,
        )


def _quote(value: str | int) -> str:
    if isinstance(value, int):
        return str(value)
    return value if value.isalnum() else quote(value, safe="")


class Urls:
    """Absolute URLs of the webhooks, as the provider requests (and signs) them."""

    def __init__(self, public_base_url: str) -> None:
        self.base = public_base_url.rstrip("/") + PREFIX

    def _url(self, path: str, **query: str | int) -> str:
        if not query:
            return self.base + path
        pairs = "&".join(f"{name}={_quote(value)}" for name, value in query.items())
        return f"{self.base}{path}?{pairs}"

    # The caller's leg: each document's actions carry its step, so a repeated request is
    # recognised and answered with the same document.
    def gather(self, step: int) -> str:
        return f"{self.base}/gather?s={step}"

    def no_input(self, step: int) -> str:
        return f"{self.base}/no-input?s={step}"

    def dial(self, step: int) -> str:
        return f"{self.base}/dial?s={step}"

    def dial_answered(self, call_id: str, step: int, number: str) -> str:
        return self._url("/dial/answered", call=call_id, s=step, n=number)

    def queue(self, step: int) -> str:
        return f"{self.base}/queue?s={step}"

    def wait(self) -> str:
        return self._url("/wait")

    def wait_digits(self) -> str:
        return self._url("/wait/digits")

    def resume(self, step: int) -> str:
        return f"{self.base}/resume?s={step}"

    def fallback(self, step: int = 0) -> str:
        return self._url("/fallback", step=step) if step else self._url("/fallback")

    def recording(self, call_id: str) -> str:
        return self._url("/recording", call=call_id)

    # A listener's leg, bridged with a queued caller.
    def listener_answer(self, call_id: str, leg: str) -> str:
        return self._url("/listener/answer", call=call_id, leg=leg)

    def listener_status(self, call_id: str, leg: str) -> str:
        return self._url("/listener/status", call=call_id, leg=leg)

    def listener_end(self, call_id: str, leg: str) -> str:
        return self._url("/listener/end", call=call_id, leg=leg)

    # A listener's call-back to a person.
    def callback_answer(self, callback_id: str) -> str:
        return self._url("/callback/answer", cb=callback_id)

    def callback_result(self, callback_id: str) -> str:
        return self._url("/callback/result", cb=callback_id)

    def callback_status(self, callback_id: str) -> str:
        return self._url("/callback/status", cb=callback_id)
