"""Public disclosure (双公示) of decisions (listener of app.services.hooks)."""
