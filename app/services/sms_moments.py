"""SMS to the applicant at the moments of DOMAIN.md §5 (listener of app.services.hooks)."""
