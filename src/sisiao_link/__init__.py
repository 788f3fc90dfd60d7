"""sisiao_link package."""
