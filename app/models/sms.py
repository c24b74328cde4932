"""SMS delivery through Twilio, verification codes, rate limits."""
