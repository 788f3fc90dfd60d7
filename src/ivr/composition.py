"""The composition root: settings, configuration, flows and stores wired in one place."""

from __future__ import annotations

from dataclasses import dataclass

from ivr.flow import CallFlow, build_flow
from ivr.settings import Settings
from routing.config import RoutingConfig
from routing.loader import load_config
from routing.rotation import InMemoryRotationStore, RotationStore


@dataclass(slots=True)
class Services:
    """Everything the transports and pages use, built once."""

    settings: Settings
    config: RoutingConfig
    flow: CallFlow
    rotation: RotationStore


def build_services(settings: Settings) -> Services:
    """Load and validate the routing file and build the stores (raises ``ConfigError``)."""
    config = load_config(settings.config_path)
    return Services(
        settings=settings,
        config=config,
        flow=build_flow(config),
        rotation=InMemoryRotationStore(),
    )
