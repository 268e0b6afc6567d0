"""The ingestion engine: the scheduler that queues collections and the workers that run them."""
