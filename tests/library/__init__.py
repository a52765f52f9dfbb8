"""Tests of pipepilot's own API: models, errors, waits, facades and handles, fleet operations."""
