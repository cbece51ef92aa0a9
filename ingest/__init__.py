"""The ways events enter Fluxo: HTTP ingest, topic validation and dead-lettering."""
