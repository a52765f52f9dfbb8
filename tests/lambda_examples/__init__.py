"""Tests of the deployable Lambda examples in ``examples/lambda/``: templates lint, handlers work offline,
and each handler's calls match its template's IAM policy (:mod:`.policy`)."""
