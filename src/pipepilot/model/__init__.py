"""Pure data: pipeline declarations, runtime state, builds and events, and their local validation.

Nothing in this package does I/O; the live objects in :mod:`pipepilot` read and act.
"""
