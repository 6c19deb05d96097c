"""After admission: what seat holders hear when meetings change, reminders before meetings.
Listens to the base through :mod:`forum.round_hooks` and :mod:`forum.maintenance`."""
