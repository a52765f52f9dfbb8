"""Conformance suite: plain boto3 against :mod:`pipepilot.local`, one test per behaviour of the services.

The rules with ids (E1, S3, T4, ...) are listed in docs/local.md, "Behaviours and choices".
"""
