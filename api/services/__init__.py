"""What the routers share: reads and writes a router calls, none of them HTTP.

A router holds HTTP only (parsing, the principal, the answer); what more than one
router needs lives here, in a module named for what it holds. Routers import no
other router, and these modules import no router (import-linter contracts).
"""
