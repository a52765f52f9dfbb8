"""Pure tests of the library: models, validation, error mapping, retry and wait decisions (no engine)."""
