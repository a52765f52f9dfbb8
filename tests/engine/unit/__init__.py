"""The engine's scheduler, retention and virtual clock, driven directly (no boto3)."""
