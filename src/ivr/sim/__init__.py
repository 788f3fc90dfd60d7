"""In-process simulated telephony."""
