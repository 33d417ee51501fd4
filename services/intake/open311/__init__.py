"""Open311 GeoReport v2 on intake's port (``/open311/v2/``): see docs/open311.md."""
