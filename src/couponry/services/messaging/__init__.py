"""Reaching customers and outside systems: mail and webhooks, delivered from the transactional outbox."""
