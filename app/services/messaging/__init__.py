"""Messages to people: the notification outbox written in the caller's transaction with the message
texts (``notify``), the SMS sender that delivers it through Twilio outside any transaction
(``sms``), and mainland mobile numbers (``phones``). Messages to other systems: the transactional
outbox with its sender (``outbox``: retries, backoff, dead letters, order per key) and the inbox that
applies each received message once (``inbox``); the wings that speak a protocol register a channel.
Knows who to write to, not why: the moments at which an applicant is told something are decided by
the wings above. May import only ``common``."""
