"""The console's pages, one APIRouter per resource: health, auth (sign-in), queues, cases, scoreboard, live."""
