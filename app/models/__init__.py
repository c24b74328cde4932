"""SQLAlchemy tables, one module per aggregate. Models never commit."""
from .user import User
from .registry import Matter, ProcessVersion
from .instance import ProcessInstance, HumanTask, TaskCandidate, Timer, OutboundMessage, Incident
from .case import Case, CaseEvent, CaseSerial, SpecialProcedure
from .supervision import Notification, SupervisionEvent
from .calendar import CalendarDay, CalendarYear

__all__ = ["User", "Matter", "ProcessVersion", "ProcessInstance", "HumanTask", "TaskCandidate",
           "Timer", "OutboundMessage", "Incident", "Case", "CaseEvent", "CaseSerial", "CalendarDay", "CalendarYear",
           "SpecialProcedure", "Notification", "SupervisionEvent"]
