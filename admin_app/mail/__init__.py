"""E-mail: letters from templates, the transactional outbox, transports and the background sender."""
