"""Settings, local provisioning, topic admin, migrations, the CLI and the supervisor."""
