"""The national investment project platform (全国投资项目在线审批监管平台): placeholder, being built."""
from __future__ import annotations


def register_channel(app) -> None:
    """Register the ``tzxm`` outbox channel when TZXM_BASE_URL is configured."""
