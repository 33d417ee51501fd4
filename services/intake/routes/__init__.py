"""The intake's HTTP routes, one APIRouter per resource: health, calls, cases, programme."""
