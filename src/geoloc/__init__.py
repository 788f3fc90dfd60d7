"""geoloc package."""
