"""The REST intake (接诉): other systems submit calls here; each becomes a CallReceived event, acked=all."""
