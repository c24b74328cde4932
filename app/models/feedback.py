"""Evaluations (好差评), rectifications, consultations, complaints, disclosure."""
