"""The back office: staff users, departments and roles (``users``), the working-day calendar
(``calendar``), the development SMS outbox and Twilio's status callback (``outbox``), and the
inspectors' 电子监察 (``supervision``), the 省市县 network's peers and outboxes (``federation``), the docking with outside systems (``integrations``), and the
administrators' page with the deployed matters (``matters``)."""
from .calendar import bp as calendar_bp
from .federation import bp as federation_bp
from .integrations import bp as integrations_bp
from .matters import bp as matters_bp
from .outbox import bp as outbox_bp
from .supervision import bp as supervision_bp
from .users import bp as users_bp

BLUEPRINTS = (supervision_bp, calendar_bp, users_bp, outbox_bp, federation_bp, integrations_bp, matters_bp)
