"""Docking (issue 15): the investment project platform's projects as it last returned them
(app/services/docking/tzxm.py): the 项目代码 lookup cache. A row is written only when the project was
confirmed for an applicant who owns it (prefill, a submission that passed the owner check); the
project page and a short outage of the platform read it (see docs/integration.md)."""
from sqlalchemy import JSON, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .base import UTCDateTime


class DockingProject(db.Model):
    __tablename__ = "docking_projects"
    #: 项目代码 (GB/T 40058), as the platform confirmed it
    code: Mapped[str] = mapped_column(String(24), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    #: 项目单位: 统一社会信用代码 and name
    owner_code: Mapped[str] = mapped_column(String(18), index=True)
    owner_name: Mapped[str] = mapped_column(String(200))
    #: 建设地点: GB/T 2260 region code and the address as text
    region_code: Mapped[str] = mapped_column(String(12), default="")
    location: Mapped[str] = mapped_column(String(300), default="")
    #: 总投资, 万元
    total_investment = mapped_column(Numeric(18, 4), nullable=True)
    #: 所属行业 (GB/T 4754 code and name)
    industry_code: Mapped[str] = mapped_column(String(20), default="")
    industry_name: Mapped[str] = mapped_column(String(100), default="")
    construction_content: Mapped[str] = mapped_column(Text, default="")
    #: the platform's answer as received (the ``data`` object)
    raw: Mapped[dict] = mapped_column(JSON, default=dict)
    fetched_at = mapped_column(UTCDateTime)
