"""``ivr prompts build``: the French prompts as 8 kHz WAV files, from their texts.

Each prompt id becomes ``prompts/fr/<id>.wav`` (the name the ARI transport plays as
``sound:ivr/<id>``), spoken by an offline voice (espeak-ng, resampled by sox). A person can
record real voices later under the same names: ``prompts/fr/texts.tsv`` lists what each file
says, and a file whose text did not change is not rendered again unless ``--force``.

Formats: the WAV is 8 kHz mono 16-bit linear PCM (Asterisk's ``slin``: no resampling), and
beside it ``<id>.alaw`` holds the same audio in raw G.711 A-law. Given both, Asterisk opens
the one that costs the least translation to the channel's codec: the ``.alaw`` file on an
A-law call (the operator trunk's first codec in France: no transcoding at all), the WAV
otherwise (one table lookup per sample to µ-law). A WAV replaced by hand (a recorded voice)
gets its ``.alaw`` again at the next build; it must be 8 kHz mono 16-bit.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import wave
from array import array
from collections.abc import Callable
from pathlib import Path

import click

from ivr.flow import prompts
from routing.config import RoutingConfig
from routing.loader import ConfigError, load_config

Synthesizer = Callable[[str, Path], None]
MANIFEST = "texts.tsv"
FORMATS_NOTE = (
    "format : WAV 8 kHz mono 16 bits (slin) et, à côté, le même son en G.711 A-law (.alaw) ; "
    "Asterisk lit celui qui demande le moins de transcodage (aucun pour un appel en A-law)"
)


class PromptFormatError(ValueError):
    """A prompt WAV that is not 8 kHz mono 16-bit (a file recorded by hand, say)."""


def _alaw_byte(value: int) -> int:
    """G.711 A-law of one 13-bit sample (a 16-bit sample shifted right by 3)."""
    sign = 0x80 if value >= 0 else 0x00
    magnitude = value if value >= 0 else -value - 1
    if magnitude < 32:
        code = magnitude >> 1
    else:
        exponent = min(magnitude.bit_length() - 5, 7)
        code = (exponent << 4) | ((magnitude >> exponent) & 0x0F)
    return (sign | code) ^ 0x55


# Indexed by (sample >> 3) + 4096: every 16-bit sample's A-law byte.
_ALAW = bytes(_alaw_byte(v) for v in range(-4096, 4096))


def alaw_companion(wav_path: Path) -> Path:
    """Write ``<id>.alaw`` (raw G.711 A-law) beside an 8 kHz mono 16-bit WAV."""
    with wave.open(str(wav_path), "rb") as wav:
        shape = (wav.getframerate(), wav.getnchannels(), wav.getsampwidth())
        if shape != (8000, 1, 2):
            raise PromptFormatError(
                f"{wav_path} : {shape[0]} Hz, {shape[1]} canal(aux), {8 * shape[2]} bits ; "
                "attendu 8000 Hz, mono, 16 bits"
            )
        samples = array("h", wav.readframes(wav.getnframes()))
    if sys.byteorder == "big":  # WAV data is little-endian
        samples.byteswap()
    out = wav_path.with_suffix(".alaw")
    out.write_bytes(bytes(_ALAW[(s >> 3) + 4096] for s in samples))
    return out


def prompt_texts(config: RoutingConfig | None, fixed_only: bool = False) -> dict[str, str]:
    """Every prompt id and its French text: fixed ones, pieces, and the configured ones."""
    texts = {**prompts.FIXED, **prompts.PIECES}
    if config is None or fixed_only:
        return texts
    texts["urgent_email"] = config.national.urgent_email.prompt
    reason_menu = prompts.reason_menu_for(config)
    if reason_menu is not None:  # its text is built from the nomenclature of the file
        texts[reason_menu.id] = reason_menu.text
    for code, dep in sorted(config.departements.items()):
        deterrence = dep.line_115.deterrence
        texts[f"deterrence_saturation_{code}"] = deterrence.saturation
        texts[f"deterrence_closure_{code}"] = deterrence.closure
        texts[f"deterrence_emergency_closure_{code}"] = deterrence.emergency_closure
        texts[f"deterrence_max_wait_exceeded_{code}"] = deterrence.max_wait_exceeded
    return texts


def espeak_synthesizer(voice: str = "fr-fr", speed: int = 150) -> Synthesizer:
    """espeak-ng speaks the text, sox turns it into 8 kHz mono 16-bit WAV for Asterisk."""
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise click.ClickException(
                f"{tool} est introuvable : installez-le (apt-get install espeak-ng sox)"
            )

    def synthesize(text: str, out: Path) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "raw.wav"
            subprocess.run(
                ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), text], check=True
            )
            subprocess.run(
                ["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(out)], check=True
            )

    return synthesize


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def build(
    texts: dict[str, str], out_dir: Path, synthesize: Synthesizer, force: bool = False
) -> list[str]:
    """Render the prompts whose text changed, and the ``.alaw`` of every WAV that has none
    or an older one; return the ids rendered."""
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = out_dir / MANIFEST
    known: dict[str, str] = {}
    if manifest.exists():
        for line in manifest.read_text().splitlines()[1:]:
            prompt_id, digest, _ = line.split("\t", 2)
            known[prompt_id] = digest
    rendered: list[str] = []
    for prompt_id, text in sorted(texts.items()):
        target = out_dir / f"{prompt_id}.wav"
        if not force and target.exists() and known.get(prompt_id) == _digest(text):
            continue
        synthesize(text, target)
        rendered.append(prompt_id)
    for prompt_id in sorted(texts):
        target = out_dir / f"{prompt_id}.wav"
        companion = target.with_suffix(".alaw")
        if target.exists() and (
            prompt_id in rendered
            or not companion.exists()
            or companion.stat().st_mtime < target.stat().st_mtime
        ):
            alaw_companion(target)
    merged = {**{k: v for k, v in _read_texts(manifest).items() if k not in texts}, **texts}
    lines = ["id\tsha256\ttext"] + [
        f"{k}\t{_digest(v)}\t{' '.join(v.split())}" for k, v in sorted(merged.items())
    ]
    manifest.write_text("\n".join(lines) + "\n")
    return rendered


def _read_texts(manifest: Path) -> dict[str, str]:
    if not manifest.exists():
        return {}
    out: dict[str, str] = {}
    for line in manifest.read_text().splitlines()[1:]:
        prompt_id, _, text = line.split("\t", 2)
        out[prompt_id] = text
    return out


@click.group("prompts")
def prompts_group() -> None:
    """Messages vocaux (fichiers audio des invites)."""


@prompts_group.command("build")
@click.option("--config", "config_path", default="config/departments.yaml", show_default=True)
@click.option("--out", "out_dir", default="prompts/fr", show_default=True)
@click.option("--voice", default="fr-fr", show_default=True, help="voix espeak-ng")
@click.option(
    "--fixed-only", is_flag=True, help="seulement les invites fixes, pas celles du fichier"
)
@click.option(
    "--force", is_flag=True, help="refaire aussi les fichiers dont le texte n'a pas changé"
)
def build_command(
    config_path: str, out_dir: str, voice: str, fixed_only: bool, force: bool
) -> None:
    """Produit les invites en WAV 8 kHz et en A-law à partir de leurs textes (espeak-ng et sox)."""
    config = None
    if not fixed_only:
        try:
            config = load_config(config_path)
        except ConfigError as exc:
            raise click.ClickException(f"{config_path} : configuration invalide ({exc})") from exc
    texts = prompt_texts(config, fixed_only)
    try:
        rendered = build(texts, Path(out_dir), espeak_synthesizer(voice), force)
    except PromptFormatError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{len(rendered)} invite(s) produite(s), {len(texts)} au total, dans {out_dir}")
    click.echo(FORMATS_NOTE)
