"""Transports: how calls reach the flows (Asterisk ARI, LaML webhooks)."""
