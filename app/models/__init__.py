"""SQLAlchemy tables, one module per aggregate. Models never commit."""
from .user import User
from .registry import Matter, ProcessVersion
from .instance import ProcessInstance, HumanTask, TaskCandidate, Timer, OutboundMessage, Incident
from .case import Case, CaseEvent, CaseSerial, SpecialProcedure
from .supervision import Notification, SupervisionEvent
from .calendar import CalendarDay, CalendarYear
from .org import Department, Region, Role, UserRole
from .inbox import CaseFile, CaseParticipant, TaskCc

__all__ = ["User", "Matter", "ProcessVersion", "ProcessInstance", "HumanTask", "TaskCandidate",
           "Timer", "OutboundMessage", "Incident", "Case", "CaseEvent", "CaseSerial", "CalendarDay", "CalendarYear",
           "SpecialProcedure", "Notification", "SupervisionEvent", "Department", "Region", "Role", "UserRole",
           "CaseFile", "CaseParticipant", "TaskCc"]

# portal (issue 5): each module owns its tables
from . import sms, accounts, intake, correction, feedback  # noqa: E402,F401
from . import ops  # noqa: E402,F401  (operations, issue 13: scheduler heartbeats)
from . import exchange, federation  # noqa: E402,F401  (outbox, inbox and peers of the exchange with other systems, issue 14)
from . import federation_reports  # noqa: E402,F401  (the lower levels' reports, for supervision across levels)
from . import docking_projects, docking_ywtb, docking_identity, docking_catalog  # noqa: E402,F401  (docking with outside systems, issue 15)
from . import notice  # noqa: E402,F401  (受理通知书 / 不予受理决定书, 行政许可法 art. 32)
from . import trail, certs, mobile_login, seals  # noqa: E402,F401  (trust, issue 17)
