"""Messages to people: the notification outbox written in the caller's transaction with the message
texts (``notify``), the SMS sender that delivers it through Twilio outside any transaction
(``sms``), and mainland mobile numbers (``phones``). Knows who to write to, not why: the moments at
which an applicant is told something are decided by the wings above. May import only ``common``."""
