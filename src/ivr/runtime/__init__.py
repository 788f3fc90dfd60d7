"""The asynchronous call runtime shared by the real transports."""
