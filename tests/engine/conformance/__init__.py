"""Conformance suite: plain boto3 against :mod:`pipepilot.local`, one test per rule of the reference."""
