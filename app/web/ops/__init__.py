"""ops: the endpoints of operators and their tools, outside every page: /healthz and /readyz
(health.py) for load balancers and orchestrators, /metrics (metrics.py) for Prometheus."""
from .health import bp as health_bp
from .metrics import bp as metrics_bp

BLUEPRINTS = (health_bp, metrics_bp)
