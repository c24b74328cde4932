"""好差评, consultations and complaints, and 双公示, for the three people they concern: the applicant
who rates and asks, the staff who rectify, answer and publish (/feedback/…), and the public who
read decisions (/disclosure) (``pages``)."""
from .pages import bp

BLUEPRINTS = (bp,)
