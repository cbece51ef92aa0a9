"""Node worker connectors: one interface, one module per kind of side effect."""
