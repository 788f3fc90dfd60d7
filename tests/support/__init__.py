"""Test support that never ships: development servers and simulated transports."""
