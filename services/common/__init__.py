"""Plumbing every streaming service uses the same way: the faust app factory and dead-lettering."""
