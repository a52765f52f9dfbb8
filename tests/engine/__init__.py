"""Tests of ``pipepilot.local``, the offline engine."""
