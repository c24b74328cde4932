"""Applicant accounts, profile, materials library, drafts."""
