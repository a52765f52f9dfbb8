"""The engine served to real boto3 clients: wiring, CodeBuild, fault plans, SNS, and docs/local.md."""
