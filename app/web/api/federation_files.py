"""The federation's file links (docs/federation.md, "Materials"): a peer fetches each material of a
forwarded case here, once, through the link this platform signed in the ``forward``. No token: the
link's Ed25519 signature (by this platform), its expiry and its recipient are the authorisation."""
from __future__ import annotations

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from werkzeug.wsgi import wrap_file

from ...services.federation.materials import open_linked
from ...services.federation.peers import FederationNotConfigured
from ...services.federation.protocol import ProtocolError
from .federation_routes import refusal_answer
from .routes import PUBLIC

federation_files_bp = Blueprint("federation_files", __name__, url_prefix="/api/federation",
                                description="省市县三级联动: materials of forwarded cases, by SHA-256")

ERROR = {"application/json": {"schema": "Error"}}
PARAMETERS = [
    {"in": "path", "name": "sha256", "required": True, "description": "the file's SHA-256, 64 lowercase hex digits",
     "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"}},
    {"in": "query", "name": "to", "required": True, "description": "the region the link was signed for (a peer)",
     "schema": {"type": "string", "pattern": "^[1-9][0-9]{5}$"}},
    {"in": "query", "name": "exp", "required": True, "description": "the link's expiry, Unix time (seconds)",
     "schema": {"type": "string", "pattern": "^[1-9][0-9]{0,11}$"}},
    {"in": "query", "name": "sig", "required": True,
     "description": "Base64url (no padding) of this platform's Ed25519 signature over the ASCII bytes "
                    "`yg-file:v1:<sha256>:<to>:<exp>`",
     "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{86}$"}},
]
RESPONSES = {
    "200": {"description": "the file's bytes",
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
            "headers": {"X-Content-SHA256": {"description": "the SHA-256 of the bytes (the path's)",
                                             "schema": {"type": "string"}},
                        "Content-Length": {"schema": {"type": "integer"}},
                        "Cache-Control": {"schema": {"type": "string"}}}},
    "403": {"description": "bad_signature (no link of this platform: missing, malformed or changed parameters), "
                           "expired (the link's time is past), or unknown_peer (`to` is not a registered, enabled "
                           "peer)", "content": ERROR},
    "404": {"description": "unknown_file: not 64 lowercase hex digits, or no file of this platform's data has "
                           "this checksum", "content": ERROR},
    "422": {"description": "input the platform's input gate refuses on every endpoint (a NUL character …)",
            "content": ERROR},
    "503": {"description": "not_configured: this platform has no signing key yet", "content": ERROR},
}


@federation_files_bp.route("/files/<sha256>", parameters=PARAMETERS, tags=["federation"])
class File(MethodView):
    @federation_files_bp.doc(security=PUBLIC, responses=RESPONSES)
    def get(self, sha256):
        """One material of a forwarded case, through the signed link given in the ``forward``."""
        args = request.args
        try:
            f, size = open_linked(sha256, args.get("to"), args.get("exp"), args.get("sig"))
        except ProtocolError as exc:
            return refusal_answer(exc)
        except FederationNotConfigured as exc:
            return refusal_answer(ProtocolError("not_configured", str(exc), 503))
        response = current_app.response_class(wrap_file(request.environ, f), mimetype="application/octet-stream",
                                              direct_passthrough=True)
        response.content_length = size
        response.headers["X-Content-SHA256"] = sha256
        response.headers["Cache-Control"] = "private, no-store"
        return response
