"""FastAPI: writes become Kafka records; reads come from the projections."""
