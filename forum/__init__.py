"""The base of the service: extensions, configuration, forums, rounds, meetings, mail outbox and
jobs, maintenance. Nothing in here imports from :mod:`registration`, which builds on it."""
