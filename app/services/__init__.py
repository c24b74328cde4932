"""Use cases. Each checks permission against the actor passed in and owns its transaction."""
