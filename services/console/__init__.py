"""The operator console: live queues, case actions and the scoreboard, in the browser (a backend-for-frontend)."""
