"""pipepilot's test suite: ``library/`` tests pipepilot's own API, ``engine/`` tests ``pipepilot.local``."""
